/**
 * Start-up faults an operator can fix end the process at once with one line that names the
 * file or port and what to do, never a stack trace. The real server is started each time.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { explainFsError, StartupError } from "../../src/startup.ts";
import { templateDatabase } from "../helpers/app.ts";

const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");
/** Only a hang reaches this: every fault here ends the process within a few seconds. */
const GUARD_MS = 60_000;

interface Start {
  code: number | null;
  stdout: string;
  stderr: string;
}

function startServer(env: Record<string, string>): Promise<Start> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, HOST: "127.0.0.1", PORT: "0", LOG_LEVEL: "warn", SMTP_URL: "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const guard = setTimeout(() => child.kill("SIGKILL"), GUARD_MS);
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

function assertOneLine(start: Start, names: string, says: RegExp): void {
  assert.equal(start.code, 1, `exit code (stderr: ${start.stderr})`);
  const lines = start.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${start.stderr}`);
  assert.ok(lines[0]!.startsWith("keysign: "), lines[0]);
  assert.ok(lines[0]!.includes(names), `the line names ${names}: ${lines[0]}`);
  assert.match(lines[0]!, says);
  assert.doesNotMatch(start.stdout + start.stderr, /^\s+at /m, "no stack trace");
}

describe("start-up faults", () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), "keysign-startup-"));
  });
  after(async () => rm(work, { recursive: true, force: true }));

  /** A data directory holding a complete, migrated database, and whatever `files` add. */
  async function dataDir(name: string, files: Record<string, string | Buffer> = {}): Promise<string> {
    const dir = path.join(work, name);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await copyFile(await templateDatabase(), path.join(dir, "keysign.db"));
    for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
    return dir;
  }

  it("a data directory that cannot be created: not permitted, or under a regular file", async () => {
    const forbidden = path.join("/sys", `keysign-${randomBytes(4).toString("hex")}`);
    assertOneLine(await startServer({ DATA_DIR: forbidden }), forbidden, /cannot be created: the operation is not permitted there\. Set DATA_DIR/);
    const file = path.join(work, "a-file");
    await writeFile(file, "not a directory");
    assertOneLine(await startServer({ DATA_DIR: path.join(file, "data") }), path.join(file, "data"), /a part of the path is a file, not a directory\. Set DATA_DIR/);
  });

  it("a damaged database, three ways: not a database, cut short, a directory in its place", async () => {
    const garbage = await dataDir("garbage");
    await writeFile(path.join(garbage, "keysign.db"), randomBytes(8192));
    const cut = await dataDir("cut");
    const database = path.join(cut, "keysign.db");
    await truncate(database, Math.floor((await readFile(database)).length / 3));
    const directory = await dataDir("directory");
    await rm(path.join(directory, "keysign.db"));
    await mkdir(path.join(directory, "keysign.db"));
    for (const dir of [garbage, cut, directory]) {
      assertOneLine(await startServer({ DATA_DIR: dir }), path.join(dir, "keysign.db"), /cannot (be read|be opened)[:.].*(Restore it from a backup|Check the data directory)/);
    }
  });

  it("a port already in use", async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const port = (busy.address() as AddressInfo).port;
      assertOneLine(await startServer({ DATA_DIR: await dataDir("port"), PORT: String(port) }), `port ${port}`, /already in use: stop the program using it, or set PORT/);
    } finally {
      busy.close();
    }
  });

  it("a damaged secrets.json or queue key", async () => {
    const secrets = await dataDir("secrets", { "secrets.json": '{"sessionSecret": ' });
    assertOneLine(await startServer({ DATA_DIR: secrets }), path.join(secrets, "secrets.json"), /is damaged .*Restore it from a backup, or delete it/);
    const queue = await dataDir("queue", { "queue-key.asc": "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot a key\n-----END PGP PRIVATE KEY BLOCK-----\n" });
    assertOneLine(await startServer({ DATA_DIR: queue }), path.join(queue, "queue-key.asc"), /is not a readable OpenPGP secret key .*Restore it from a backup/);
  });

  it("a full disk or a read-only file system is named as such (the operating system's codes)", () => {
    for (const [code, says] of [["ENOSPC", "the disk is full"], ["EROFS", "the file system is read-only"], ["EACCES", "permission denied"]] as const) {
      const error = Object.assign(new Error("raw"), { code });
      const explained = explainFsError(error, "/data/keysign.db cannot be written", "Free some space.");
      assert.ok(explained instanceof StartupError);
      assert.equal(explained.message, `/data/keysign.db cannot be written: ${says}. Free some space.`);
    }
  });
});
