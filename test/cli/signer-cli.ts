/**
 * Runs the signer's commands as an officer would: with answers piped to stdin, or at a real
 * terminal (a pty made by util-linux `script`), typing each line only once its prompt shows;
 * or in-process, for refusals that need no process of their own.
 */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import type { CommandIo } from "../../src/cli/exit-codes.ts";
import type { CliRun } from "../helpers/cli.ts";

const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");
const ENTRY = ["--import", "tsx", "src/cli/index.ts"];

/** Runs `keysign args` with `input` written to its stdin at once (a pipe, not a terminal). */
export function runWithInput(args: string[], env: Record<string, string>, input: string): Promise<CliRun> {
  return collect(spawn(process.execPath, [...ENTRY, ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] }), (child) =>
    child.stdin?.end(input),
  );
}

export const HAS_SCRIPT = spawnSync("script", ["--version"]).status === 0;

export interface Exchange {
  /** Waits until the terminal shows this... */
  prompt: RegExp;
  /** ...then types this line. */
  type: string;
}

/** Runs `keysign args` at a pseudo-terminal; stdout and stderr arrive merged, as on a screen. */
export function runAtTerminal(args: string[], env: Record<string, string>, dialogue: Exchange[]): Promise<CliRun> {
  const command = [process.execPath, ...ENTRY, ...args].map((part) => `'${part.replaceAll("'", `'\\''`)}'`).join(" ");
  const child = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const pending = [...dialogue];
  let screen = "";
  let from = 0;
  child.stdout?.on("data", (chunk: Buffer) => {
    screen += chunk.toString("utf8");
    for (;;) {
      const next = pending[0];
      const match = next ? next.prompt.exec(screen.slice(from)) : null;
      if (!next || !match) return;
      from += match.index + match[0].length;
      pending.shift();
      child.stdin?.write(`${next.type}\r`);
    }
  });
  return collect(child, () => undefined);
}

function collect(child: ReturnType<typeof spawn>, start: (child: ReturnType<typeof spawn>) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    start(child);
  });
}

type Command = (args: string[], io: CommandIo) => Promise<number>;

/**
 * Runs one command's function in this process with captured output and no stdin, as the entry
 * point would call it. Used for the many refusal cases, where spawning a process each time
 * would cost a second apiece; the happy paths and the interactive ones are spawned.
 */
export async function runInProcess(command: Command, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const io: CommandIo = {
    env: { ...process.env, ...env },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  };
  const code = await command(args, io);
  return { code, stdout, stderr };
}
