/**
 * `keysign inspect FILE [--batch BATCH]`: what a batch or result file says, its SHA-256 (to
 * compare with the portal's page) and whether its signature is good. For a result, with the
 * batch it answers, every signature in it goes through the very check the portal's import
 * runs, and each item gets the verdict the portal would give.
 *
 * Exit codes: 0 the signature was checked against the pins and the file is usable; 6 the file
 * was refused (its signature, format, for a batch its expiry, master or the clock, for a result
 * checked against its batch any broken rule); 8 there are no pins, so the contents are shown
 * but marked NOT CHECKED. A tampered file's contents are never shown.
 */
import { readFile } from "node:fs/promises";
import type { PublicKey } from "openpgp";
import { formatFingerprint } from "../core/key-policy.ts";
import { formatSha256 } from "../core/sha256-display.ts";
import { openEnvelope, sha256Hex } from "../core/transfer/envelope.ts";
import { parseBatchPayload, parseEnvelope, parseResultPayload, type BatchPayload, type TransferKind } from "../core/transfer/formats.ts";
import { checkResult } from "../core/transfer/result-check.ts";
import { resultVerdicts } from "../core/transfer/result-report.ts";
import { checkBatch, reviewItem } from "../core/transfer/sign-batch.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { TransferError } from "../core/transfer/transfer-error.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { parseOptions, runCommand, usageError } from "./signer-errors.ts";
import { readPinnedKey, readPins, signerHome, type Pins } from "./signer-home.ts";
import { batchHeader, batchItem, printable, resultSummary, sha256Row } from "./signer-summary.ts";

export const INSPECT_USAGE = "keysign inspect FILE [--batch BATCH] [--home DIR]";

export function keysignInspect(args: string[], io: CommandIo): Promise<number> {
  return runCommand("inspect", INSPECT_USAGE, io, async () => {
    const { values, positionals } = parseOptions(args, { home: { type: "string" }, batch: { type: "string" } }, true);
    const [file, ...extra] = positionals;
    if (file === undefined || extra.length > 0) throw usageError("give exactly one file");
    const bytes = await readInput(file);
    const batchFile = values.batch === undefined ? null : { path: values.batch, bytes: await readInput(values.batch) };
    const pins = await readPins(signerHome(values.home, io.env));
    const kind = parseEnvelope(bytes).keysign;
    if (batchFile !== null && kind !== "result") throw usageError("--batch goes with a result file: keysign inspect RESULT --batch BATCH");
    const out = (lines: string[]) => io.stdout.write(`${lines.join("\n")}\n`);
    out([`File        ${file}`, ...sha256Row("SHA-256", sha256Hex(bytes)), `Kind        ${kind}`]);
    if (pins === null) return unchecked(bytes, kind, io);
    const signer = await pinnedSigner(pins, kind);
    try {
      const opened = await openEnvelope(bytes, kind, signer.key, signer.role);
      out([`Signature   good: by the pinned ${signer.role} ${formatFingerprint(signer.key.getFingerprint())} at ${opened.signedAt.toISOString()}`]);
      return kind === "batch" ? await showBatch(opened.payload, pins, io) : await showResult(opened.payload, pins, { file, batchFile }, io);
    } catch (error) {
      if (!(error instanceof TransferError)) throw error;
      out([`Signature   REFUSED: ${printable(error.message)}`]);
      return EXIT.fileRefused;
    }
  });
}

async function pinnedSigner(pins: Pins, kind: TransferKind): Promise<{ key: PublicKey; role: string }> {
  return kind === "batch" ? { key: await readPinnedKey(pins.queueKey.armored), role: "queue key" } : { key: await readPinnedKey(pins.master.armored), role: "master key" };
}

async function showBatch(payload: Uint8Array, pins: Pins, io: CommandIo): Promise<number> {
  const batch = parseBatchPayload(payload);
  const now = new Date();
  const master = await readPinnedKey(pins.master.armored);
  const lines = batchHeader(batch);
  for (const [index, item] of batch.items.entries()) lines.push(...batchItem(item, `${index + 1}/${batch.items.length}`, await reviewItem(item, master, now), batch.organisation));
  io.stdout.write(`${lines.join("\n")}\n`);
  try {
    checkBatch(batch, { queueKey: pins.queueKey.fingerprint, master: pins.master.fingerprint }, now);
  } catch (error) {
    if (!(error instanceof TransferError)) throw error;
    io.stdout.write(`REFUSED: ${printable(error.message)}\n`);
    return EXIT.fileRefused;
  }
  return EXIT.ok;
}

async function showResult(payload: Uint8Array, pins: Pins, files: { file: string; batchFile: { path: string; bytes: Uint8Array } | null }, io: CommandIo): Promise<number> {
  const result = parseResultPayload(payload);
  io.stdout.write(`${resultSummary(result).join("\n")}\n`);
  if (result.master !== pins.master.fingerprint) {
    io.stdout.write(`REFUSED: the result names master ${formatFingerprint(result.master)}, not the pinned ${formatFingerprint(pins.master.fingerprint)}\n`);
    return EXIT.fileRefused;
  }
  if (files.batchFile === null) {
    io.stdout.write(`Signatures  NOT CHECKED: give the batch it answers to run the portal's checks:\n  keysign inspect ${files.file} --batch BATCH-FILE\n`);
    return EXIT.ok;
  }
  const batch = await openEnvelope(files.batchFile.bytes, "batch", await readPinnedKey(pins.queueKey.armored), "queue key");
  const master = await readPinnedKey(pins.master.armored);
  const now = new Date();
  const batchPayload = parseBatchPayload(batch.payload);
  const checked = await checkResult(result, { batch: batchPayload, batchSha256: batch.sha256, master, now, config: inspectionConfig({ minRsaBits: 2048 }) });
  const expired = now > new Date(batchPayload.expiresAt) ? [`the batch expired at ${batchPayload.expiresAt}; the portal refuses its result`] : [];
  const lines = [`Checked against ${files.batchFile.path} (SHA-256 ${formatSha256(batch.sha256)}), as the portal's import checks it:`];
  for (const verdict of resultVerdicts(batchPayload, checked)) {
    lines.push(`  ${verdict.verdict.toUpperCase().padEnd(9)} ${printable(verdict.label)}`, ...verdict.details.map((detail) => `            ${printable(detail)}`));
  }
  const refused = !checked.ok || expired.length > 0;
  lines.push(
    ...expired.map((line) => `REFUSED: ${line}`),
    refused ? "Verdict     REFUSED: the portal would refuse this result and change nothing; sign the batch again." : "Verdict     good: the portal's checks pass; carry the result back and import it.",
  );
  io.stdout.write(`${lines.join("\n")}\n`);
  return refused ? EXIT.fileRefused : EXIT.ok;
}

async function readInput(file: string): Promise<Uint8Array> {
  return new Uint8Array(
    await readFile(file).catch(() => {
      throw usageError(`cannot read ${file}`);
    }),
  );
}

/** Without pins: the contents, clearly marked as unchecked, and exit 8. */
function unchecked(bytes: Uint8Array, kind: TransferKind, io: CommandIo): number {
  const payload = new Uint8Array(Buffer.from(parseEnvelope(bytes).payload, "base64"));
  const warning = 'Signature   NOT CHECKED: this signer has no pins yet (run "keysign init"); anyone could have written what follows';
  const lines = kind === "batch" ? batchLines(parseBatchPayload(payload)) : resultSummary(parseResultPayload(payload));
  io.stdout.write(`${warning}\n${lines.join("\n")}\n${warning}\n`);
  return EXIT.notInitialised;
}

function batchLines(batch: BatchPayload): string[] {
  return [...batchHeader(batch), ...batch.items.flatMap((item, index) => batchItem(item, `${index + 1}/${batch.items.length}`, null, batch.organisation))];
}
