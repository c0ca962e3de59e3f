/**
 * A real nginx, run as the current user (its workers as nobody when that is root) on loopback with everything (pid, logs, temp paths)
 * in a throwaway prefix, serving the configuration docs/publication.md gives for the static
 * export. Stopped and removed by `stop()`, which callers run in `after`/`finally`.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const PUBLICATION_DOC = path.resolve(import.meta.dirname, "../../docs/publication.md");
const DOC_ROOT = "/srv/keysign/current";
const DOC_LISTEN = "listen 80;";

export interface RunningNginx {
  base: string;
  port: number;
  /** The access log so far. */
  accessLog(): Promise<string>;
  stop(): Promise<void>;
}

/** The ```nginx block of the static export section, with its root and listen placeholders replaced. */
export async function exportNginxConfig(root: string, port: number): Promise<string> {
  const doc = await readFile(PUBLICATION_DOC, "utf8");
  const section = doc.split("\n## Static export for any web server or CDN\n")[1]?.split("\n## ")[0] ?? "";
  const block = /```nginx\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("docs/publication.md has no ```nginx block in its static export section");
  for (const placeholder of [DOC_ROOT, DOC_LISTEN]) if (!block.includes(placeholder)) throw new Error(`the docs' nginx block lacks ${placeholder}`);
  return block.replaceAll(`root ${DOC_ROOT};`, `root ${root};`).replace(DOC_LISTEN, `listen 127.0.0.1:${port};`);
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts nginx with `httpBlock` (directives for the http context) and waits until it answers. */
export async function startNginx(httpBlock: string, port: number): Promise<RunningNginx> {
  const prefix = await mkdtemp(path.join(tmpdir(), "keysign-nginx-"));
  for (const dir of ["logs", "temp"]) await mkdir(path.join(prefix, dir));
  const temp = (name: string) => `${name}_temp_path ${path.join(prefix, "temp", name)};`;
  const config = [
    "worker_processes 1;",
    "daemon off;",
    // Started by root (as in CI containers), the workers drop to nobody: the tree they serve must be world-readable, as on a server.
    ...(process.getuid?.() === 0 ? ["user nobody nogroup;"] : []),
    "master_process on;",
    `pid ${path.join(prefix, "nginx.pid")};`,
    `error_log ${path.join(prefix, "logs", "error.log")} warn;`,
    "events { worker_connections 64; }",
    "http {",
    `  access_log ${path.join(prefix, "logs", "access.log")};`,
    ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((name) => `  ${temp(name)}`),
    httpBlock,
    "}",
  ].join("\n");
  const file = path.join(prefix, "nginx.conf");
  await writeFile(file, config);
  const check = spawnSync("nginx", ["-p", prefix, "-c", file, "-t"], { encoding: "utf8" });
  if (check.status !== 0) {
    await rm(prefix, { recursive: true, force: true });
    throw new Error(`nginx refuses the configuration: ${check.stderr}`);
  }
  const child = spawn("nginx", ["-p", prefix, "-c", file], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGQUIT");
      await exited;
    }
    await rm(prefix, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilAnswering(base, () => child.exitCode !== null, () => stderr);
  } catch (error) {
    await stop();
    throw error;
  }
  return { base, port, stop, accessLog: () => readFile(path.join(prefix, "logs", "access.log"), "utf8") };
}

async function waitUntilAnswering(base: string, exited: () => boolean, stderr: () => string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (exited()) throw new Error(`nginx stopped at start: ${stderr()}`);
    const answered = await fetch(`${base}/`).then(
      () => true,
      () => false,
    );
    if (answered) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nginx did not answer on ${base}: ${stderr()}`);
}
