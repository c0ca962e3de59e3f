/**
 * Runs the officer's `gpg` and reads its machine interface: status lines on fd 3 (never the
 * human messages, which are translated and change between versions) and, when asked, answers
 * to its GET_BOOL/GET_LINE questions on fd 0 (--command-fd), by keyword. A question without a
 * prepared answer stops gpg: nothing is ever answered by default.
 */
import { spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

export interface GpgEnvironment {
  /** --homedir; null uses $GNUPGHOME or GnuPG's default, as the officer's own gpg would. */
  homedir: string | null;
  env: Record<string, string | undefined>;
  /** True when the officer sits at a terminal, so pinentry may ask there. */
  interactive: boolean;
}

export interface GpgOutcome {
  code: number;
  stdout: Buffer;
  stderr: string;
  /** Status lines without the "[GNUPG:] " prefix. */
  status: string[];
  /** The question gpg asked that had no prepared answer, if any. */
  unanswered: string | null;
}

/** Answers by keyword: a list is used up in order; a string answers every time. */
export type GpgAnswers = Record<string, string | string[]>;

/** `input` goes to gpg's stdin when there are no answers to give there (`gpg --import` reads a key from it). */
export function runGpg(environment: GpgEnvironment, args: readonly string[], answers?: GpgAnswers, input?: Uint8Array): Promise<GpgOutcome> {
  const base = [
    ...(environment.homedir === null ? [] : ["--homedir", environment.homedir]),
    "--no-options",
    "--batch",
    "--no-tty",
    "--no-greeting",
    "--status-fd",
    "3",
    ...(answers ? ["--command-fd", "0"] : []),
  ];
  const child = spawn("gpg", [...base, ...args], { stdio: ["pipe", "pipe", "pipe", "pipe"], env: gpgEnv(environment) });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  const status: string[] = [];
  let unanswered: string | null = null;
  child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
  const queue = answers ? structuredClone(answers) : null;
  createInterface({ input: child.stdio[3] as Readable }).on("line", (line) => {
    if (!line.startsWith("[GNUPG:] ")) return;
    const entry = line.slice("[GNUPG:] ".length);
    status.push(entry);
    const [keyword, question] = entry.split(" ");
    if (!["GET_BOOL", "GET_LINE", "GET_HIDDEN"].includes(keyword ?? "")) return;
    const answer = queue ? nextAnswer(queue, question ?? "") : null;
    if (answer === null) {
      unanswered = question ?? keyword ?? "";
      child.kill();
      return;
    }
    child.stdin.write(`${answer}\n`);
  });
  if (!answers) child.stdin.end(input);
  child.stdin.on("error", () => undefined);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      (child.stdio[3] as Writable | null)?.destroy();
      resolve({ code: code ?? -1, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8"), status, unanswered });
    });
  });
}

function nextAnswer(answers: GpgAnswers, question: string): string | null {
  const prepared = answers[question];
  if (typeof prepared === "string") return prepared;
  return prepared?.shift() ?? null;
}

/** pinentry needs the terminal's name to ask there; gpg does not find it when stdin is a pipe to it. */
function gpgEnv(environment: GpgEnvironment): Record<string, string | undefined> {
  if (!environment.interactive || environment.env.GPG_TTY) return environment.env;
  try {
    return { ...environment.env, GPG_TTY: readlinkSync("/proc/self/fd/0") };
  } catch {
    return environment.env;
  }
}

/** libgpg-error codes (the low 16 bits of the code in ERROR and FAILURE status lines) an officer can act on. */
const ERROR_CODES: Record<number, string> = {
  11: "the passphrase is wrong",
  17: "GnuPG cannot use the master's secret key (not in this GnuPG home, or its card is not inserted)",
  54: "GnuPG cannot use the master's secret key for this (unusable secret key)",
  85: "no pinentry program could ask for the passphrase (use --passphrase-file, or install pinentry)",
  87: "the smartcard PIN is wrong",
  99: "the passphrase or PIN prompt was cancelled",
  108: "the smartcard operation failed",
  110: "the smartcard was removed",
  112: "the smartcard is not inserted",
  130: "the smartcard PIN is blocked",
  153: "GnuPG reports the key as expired",
  177: "no passphrase was given",
};

/** What GnuPG's status lines say went wrong, in words; null when they name nothing known. */
export function explainStatus(status: readonly string[]): string | null {
  const has = (keyword: string) => status.some((line) => line === keyword || line.startsWith(`${keyword} `));
  if (has("BAD_PASSPHRASE")) return "the passphrase is wrong";
  for (const line of status) {
    const [keyword, , code] = line.split(" ");
    if (keyword !== "ERROR" && keyword !== "FAILURE") continue;
    const known = ERROR_CODES[Number(code) & 0xffff];
    if (known) return known;
  }
  if (has("SC_OP_FAILURE")) return "the smartcard operation failed (card missing, wrong PIN, or PIN blocked)";
  if (has("NO_SECKEY") || has("INV_SGNR")) return "GnuPG cannot use the master's secret key (not in this GnuPG home, or its card is not inserted)";
  return null;
}
