/**
 * Runs GnuPG in a throwaway home directory, never the user's keyring. Each home is made with
 * mkdtemp, used with --batch --pinentry-mode loopback --no-tty, and removed (agent included)
 * when the callback settles.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GpgResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

export interface GpgRunOptions {
  input?: Uint8Array | string;
  /** Freezes GnuPG's clock (--faked-system-time with "!"), for reproducible dates. */
  at?: Date;
}

export interface GpgHome {
  readonly dir: string;
  /** Runs gpg and reports whatever happened. */
  run(args: readonly string[], options?: GpgRunOptions): Promise<GpgResult>;
  /** Runs gpg and returns stdout; throws with gpg's stderr when it exits non-zero. */
  ok(args: readonly string[], options?: GpgRunOptions): Promise<Buffer>;
}

export async function withGpgHome<T>(callback: (gpg: GpgHome) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "keysign-gpg-"));
  try {
    return await callback(gpgHome(dir));
  } finally {
    await spawnCollect("gpgconf", ["--homedir", dir, "--kill", "all"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

function gpgHome(dir: string): GpgHome {
  const run = (args: readonly string[], options: GpgRunOptions = {}) => {
    const base = ["--homedir", dir, "--batch", "--pinentry-mode", "loopback", "--no-tty", "--no-greeting"];
    const clock = options.at ? ["--faked-system-time", `${fakedTime(options.at)}!`] : [];
    return spawnCollect("gpg", [...base, ...clock, ...args], options.input);
  };
  const ok = async (args: readonly string[], options?: GpgRunOptions) => {
    const result = await run(args, options);
    if (result.code !== 0) throw new Error(`gpg ${args.join(" ")} exited with ${result.code}: ${result.stderr}`);
    return result.stdout;
  };
  return { dir, run, ok };
}

/** "20250101T000000", the form --faked-system-time takes. */
function fakedTime(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "");
}

function spawnCollect(command: string, args: readonly string[], input?: Uint8Array | string): Promise<GpgResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") }));
    child.stdin.end(input === undefined ? undefined : Buffer.from(input));
  });
}

/** Parses `--with-colons` output into records (fields split on ":"). */
export function colonRecords(output: Buffer | string): string[][] {
  return output
    .toString("utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => line.split(":"));
}

/** Decodes the \xNN escapes GnuPG uses for ":" and control characters in colon listings. */
export function unescapeColonField(field: string): string {
  return field.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
