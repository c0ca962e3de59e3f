/**
 * How the signer's commands turn expected failures into a message and an exit code. Anything
 * else is unexpected and reaches the entry point (exit 1).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { KeyPolicyError } from "../core/key-policy.ts";
import { MasterKeyError } from "../core/transfer/software-signer.ts";
import { TransferError } from "../core/transfer/transfer-error.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { printable } from "./signer-summary.ts";

/** An expected failure with the exit code it ends the command with. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export function usageError(message: string): CommandError {
  return new CommandError(EXIT.usage, message);
}

/** Runs a command body; prints "keysign NAME: message" for expected failures and returns their code. */
export async function runCommand(name: string, usage: string, io: CommandIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (error) {
    const code = exitCodeOf(error);
    if (code === null || !(error instanceof Error)) throw error;
    io.stderr.write(`keysign ${name}: ${printable(error.message)}\n`);
    if (code === EXIT.usage) io.stderr.write(`usage: ${usage}\n`);
    return code;
  }
}

function exitCodeOf(error: unknown): number | null {
  if (error instanceof CommandError) return error.exitCode;
  if (error instanceof TransferError || error instanceof KeyPolicyError) return EXIT.fileRefused;
  if (error instanceof MasterKeyError) return EXIT.masterKey;
  return null;
}

/** node:util parseArgs, strict, with its complaints turned into usage errors. */
export function parseOptions<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, allowPositionals: boolean) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}
