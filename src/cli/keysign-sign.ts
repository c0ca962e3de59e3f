/**
 * `keysign sign BATCH`: the offline signing ceremony's one command. It opens the batch against
 * the pins, shows every item, asks the officer about each (unless --yes), signs with the
 * master key (a key file or GnuPG) and writes the result file beside the batch. The work
 * itself is core/transfer/sign-batch.ts; this file only reads, asks and writes.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { readPrivateKey } from "openpgp";
import { inspectionConfig } from "../core/openpgp-config.ts";
import type { MasterSigner } from "../core/transfer/master-signer.ts";
import { OFFICER_DECLINED, openBatch, signBatch, type Decision, type ItemReview, type OpenedBatch } from "../core/transfer/sign-batch.ts";
import { openSoftwareSigner } from "../core/transfer/software-signer.ts";
import { sha256Hex } from "../core/transfer/envelope.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { openGpgSigner } from "./gpg-signer.ts";
import { AnswerReader, canPrompt, promptHidden, readPassphraseFile } from "./prompt.ts";
import { CommandError, parseOptions, runCommand, usageError } from "./signer-errors.ts";
import { readPinnedKey, requirePins, signerHome, writeFileAtomically, type Pins } from "./signer-home.ts";
import { batchHeader, batchItem, printable, sha256Row } from "./signer-summary.ts";

export const SIGN_USAGE = "keysign sign BATCH [--out RESULT] [--yes] [--passphrase-file FILE] [--gpg [--gpg-home DIR]] [--home DIR] [--force]";

const OPTIONS = {
  out: { type: "string" },
  yes: { type: "boolean" },
  "passphrase-file": { type: "string" },
  gpg: { type: "boolean" },
  "gpg-home": { type: "string" },
  home: { type: "string" },
  force: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>["values"];

/** More signatures than this get a progress bar. */
const PROGRESS_FROM = 5;

export function keysignSign(args: string[], io: CommandIo): Promise<number> {
  return runCommand("sign", SIGN_USAGE, io, async () => {
    const { values, positionals } = parseOptions(args, OPTIONS, true);
    const [batchPath, ...extra] = positionals;
    if (batchPath === undefined || extra.length > 0) throw usageError("give exactly one batch file");
    const pins = await requirePins(signerHome(values.home, io.env));
    const output = path.resolve(values.out ?? defaultOutput(batchPath));
    if (output === path.resolve(batchPath)) throw usageError("the result cannot replace the batch file");
    if (!existsSync(path.dirname(output))) throw usageError(`there is no directory ${path.dirname(output)} to write the result in`);
    if (existsSync(output) && !values.force) throw new CommandError(EXIT.refused, `${output} already exists; use --force to replace it`);
    const file = await readFile(batchPath).catch(() => {
      throw usageError(`cannot read ${batchPath}`);
    });
    const opened = await openBatch(new Uint8Array(file), { queueKey: await readPinnedKey(pins.queueKey.armored), master: pins.master.fingerprint }, new Date());
    io.stdout.write(`${[`File        ${batchPath}`, ...sha256Row("SHA-256", opened.sha256), "Signature   good: by the pinned queue key", ...batchHeader(opened.batch)].join("\n")}\n`);
    const signer = await openSigner(pins, values, io);
    try {
      return await signAndWrite(opened, signer, pins, { output, yes: values.yes === true }, io);
    } finally {
      await signer.close();
    }
  });
}

function defaultOutput(batchPath: string): string {
  const { dir, name } = path.parse(batchPath);
  return path.join(dir, `${name}.result.json`);
}

async function openSigner(pins: Pins, values: Values, io: CommandIo): Promise<MasterSigner> {
  const passphraseFile = values["passphrase-file"] ? path.resolve(values["passphrase-file"]) : null;
  if (values.gpg || pins.master.backend === "gpg") {
    // Read once so a missing or empty file is a usage error here, not a GnuPG failure later.
    if (passphraseFile !== null) await readPassphraseFile(passphraseFile);
    const homedir = values["gpg-home"] ? path.resolve(values["gpg-home"]) : (pins.master.gpgHome ?? null);
    return openGpgSigner({ environment: { homedir, env: io.env, interactive: canPrompt(io) }, fingerprint: pins.master.fingerprint, passphraseFile });
  }
  if (!pins.master.secretKeyFile) throw usageError("the pins name no master key file; run keysign init --master-key FILE, or sign with --gpg");
  const armoredSecretKey = await readFile(pins.master.secretKeyFile, "utf8").catch(() => {
    throw usageError(`cannot read the master key file ${pins.master.secretKeyFile}`);
  });
  const passphrase = passphraseFile !== null ? await readPassphraseFile(passphraseFile) : await askPassphrase(armoredSecretKey, pins, io);
  return openSoftwareSigner({ armoredSecretKey, passphrase, fingerprint: pins.master.fingerprint, now: new Date() });
}

/** Asked at the terminal only when the key file is protected; a key file without one gets a warning. */
async function askPassphrase(armoredSecretKey: string, pins: Pins, io: CommandIo): Promise<string | null> {
  const key = await readPrivateKey({ armoredKey: armoredSecretKey, config: inspectionConfig({ minRsaBits: 2048 }) }).catch(() => null);
  if (key?.isDecrypted()) {
    io.stderr.write("warning: the master key file is not passphrase-protected\n");
    return null;
  }
  if (!canPrompt(io)) throw usageError("the master key is passphrase-protected and there is no terminal to ask on; use --passphrase-file FILE");
  return promptHidden(`Passphrase for the master key ${pins.master.fingerprint.slice(-16)}: `, io);
}

interface Destination {
  output: string;
  yes: boolean;
}

async function signAndWrite(opened: OpenedBatch, signer: MasterSigner, pins: Pins, destination: Destination, io: CommandIo): Promise<number> {
  const items = opened.batch.items;
  const position = (review: ItemReview) => `${items.indexOf(review.item) + 1}/${items.length}`;
  const show = (review: ItemReview) => io.stdout.write(`\n${batchItem(review.item, position(review), review, opened.batch.organisation).join("\n")}\n`);
  const reader = destination.yes ? null : new AnswerReader(io);
  try {
    const signed = await signBatch({
      opened,
      signer,
      master: await readPinnedKey(pins.master.armored),
      decide: async (review) => {
        show(review);
        return reader === null ? { approve: true } : ask(reader, position(review));
      },
      refused: (review) => {
        show(review);
        io.stdout.write("      => declined: the signer refuses this item\n");
      },
      // Every answer is in: release stdin, so pinentry can have the terminal.
      decided: () => reader?.done(),
      progress: progressBar(io),
      now: () => new Date(),
    });
    await writeFileAtomically(destination.output, signed.file, 0o644);
    const { certified, revoked, declined } = signed.counts;
    io.stdout.write(
      `\nResult written to ${destination.output}\n` +
        `  ${certified} certified, ${revoked} revoked, ${declined} declined\n` +
        `${sha256Row("SHA-256", sha256Hex(signed.file), "  ").join("\n")}\n` +
        "Carry it back to the portal and import it there.\n",
    );
    return certified + revoked === 0 ? EXIT.nothingSigned : EXIT.ok;
  } finally {
    reader?.done();
  }
}

async function ask(reader: AnswerReader, position: string): Promise<Decision> {
  for (;;) {
    const answer = (await reader.ask(`Sign item ${position}? [y/n] `)).toLowerCase();
    if (answer === "y" || answer === "yes") return { approve: true };
    if (answer === "n" || answer === "no") {
      const reason = await reader.ask(`Reason for declining (Enter for "${OFFICER_DECLINED}"): `);
      return { approve: false, reason: reason === "" ? OFFICER_DECLINED : reason };
    }
    reader.tell(`Please answer y or n (you answered "${printable(answer)}").\n`);
  }
}

/** A one-line bar on a terminal, counting signatures (a certification and its sealed revocation are two); a final line otherwise. */
function progressBar(io: CommandIo): ((done: number, total: number) => void) | undefined {
  const width = 30;
  return (done, total) => {
    if (total <= PROGRESS_FROM) return;
    if (io.stderr.isTTY === true) {
      const filled = Math.round((done / total) * width);
      io.stderr.write(`\rsigning [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done}/${total} signatures${done === total ? "\n" : ""}`);
    } else if (done === total) {
      io.stderr.write(`made ${total} signatures\n`);
    }
  };
}
