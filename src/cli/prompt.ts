/**
 * The officer's input: passphrases (from a file, or typed with echo off at a terminal; never
 * from argv or the environment) and one answer per item, read line by line from stdin so the
 * answers can also be piped.
 */
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { CommandError, usageError } from "./signer-errors.ts";

/** The first line of `file`, without its line ending. */
export async function readPassphraseFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw usageError(`cannot read the passphrase file ${file}`);
  }
  const passphrase = text.split(/\r?\n/, 1)[0] ?? "";
  if (passphrase === "") throw usageError(`the passphrase file ${file} is empty (the passphrase is its first line)`);
  return passphrase;
}

export function canPrompt(io: CommandIo): boolean {
  return io.stdin?.isTTY === true && typeof io.stdin.setRawMode === "function";
}

/** Reads one line at the terminal with echo off; the text typed is never written anywhere. */
export function promptHidden(prompt: string, io: CommandIo): Promise<string> {
  const stdin = io.stdin;
  if (!stdin || !canPrompt(io)) throw usageError("no terminal to ask for the passphrase on; use --passphrase-file FILE");
  // Echo goes off before the prompt shows, so nothing typed after the prompt can be echoed.
  stdin.setRawMode?.(true);
  io.stderr.write(prompt);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed: string[] = [];
    const finish = () => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write("\n");
    };
    const onData = (chunk: string | Buffer) => {
      for (const character of chunk.toString()) {
        if (character === "\r" || character === "\n") {
          finish();
          resolve(typed.join(""));
          return;
        }
        if (character === "\u0003" || (character === "\u0004" && typed.length === 0)) {
          finish();
          reject(new CommandError(EXIT.aborted, "stopped at the passphrase prompt; nothing was signed"));
          return;
        }
        if (character === "\u007f" || character === "\b") typed = typed.slice(0, -1);
        else if (character === "\u0015") typed = [];
        else typed.push(character);
      }
    };
    stdin.on("data", onData);
  });
}

/** Asks questions on stderr and reads the answers from stdin, one line each. */
export class AnswerReader {
  private readonly lines: AsyncIterator<string>;
  private readonly close: () => void;

  constructor(private readonly io: CommandIo) {
    if (!io.stdin) throw usageError("no input to read answers from; use --yes to approve every item");
    const reader = createInterface({ input: io.stdin, terminal: false });
    this.lines = reader[Symbol.asyncIterator]();
    this.close = () => reader.close();
  }

  /** The next answer, trimmed; throws "aborted" when the input ends first. */
  async ask(question: string): Promise<string> {
    this.io.stderr.write(question);
    const next = await this.lines.next();
    if (next.done === true) {
      this.io.stderr.write("\n");
      throw new CommandError(EXIT.aborted, "the input ended before every item had an answer; nothing was written");
    }
    return next.value.trim();
  }

  tell(text: string): void {
    this.io.stderr.write(text);
  }

  /** Stops reading stdin; safe to call more than once. */
  done(): void {
    this.close();
  }
}
