/**
 * `keysign module verify DIR...`: for each module, the status bits and detail lines FreePBX 17
 * would show, and Keysign's own verdict with one reason. The rules are core/module-sig's; this
 * file reads the module.sig files, the keys (files or the portal), the feed and the listed files.
 */
import { stat, readFile } from "node:fs/promises";
import path from "node:path";
import type { PublicKey } from "openpgp";
import { loadKeys } from "../core/module-sig/keyring.ts";
import { unlistedFiles, type UnlistedFile } from "../core/module-sig/manifest.ts";
import { MAX_MODULE_SIG_BYTES, readClearSigned, issuerOf } from "../core/module-sig/signature.ts";
import { checkSignature, judgeModule, type FeedStanding, type ModuleReport, type SignatureFindings } from "../core/module-sig/verify.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { localKeyBlobs, masterList, portalKeyBlob, portalUrl, readFeed, sha256Files, walkModule } from "./module-files.ts";
import { parseOptions, runCommand, usageError } from "./signer-errors.ts";

export const MODULE_VERIFY_USAGE =
  "keysign module verify DIR... (--keys DIR | --keyring FILE | --portal URL)... [--master FPR]... [--feed URL|FILE --publication-key FILE] [--framework-root DIR] [--json]";

const OPTIONS = {
  keys: { type: "string" },
  keyring: { type: "string", multiple: true },
  portal: { type: "string" },
  master: { type: "string", multiple: true },
  feed: { type: "string" },
  "publication-key": { type: "string" },
  "framework-root": { type: "string" },
  json: { type: "boolean" },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>["values"];

export interface ModuleResult {
  module: string;
  directory: string;
  /** `[config] type`; a local module is checked by FreePBX against `pointsTo`. */
  type: string | null;
  pointsTo: string | null;
  report: ModuleReport;
  unlisted: UnlistedFile[];
}

export function moduleVerify(args: string[], io: CommandIo): Promise<number> {
  return runCommand("module verify", MODULE_VERIFY_USAGE, io, async () => {
    const { values, positionals } = parseOptions(args, OPTIONS, true);
    if (positionals.length === 0) throw usageError("give at least one module directory");
    if (values.keys === undefined && values.keyring === undefined && values.portal === undefined) {
      throw usageError("say where the keys are: --keys DIR (an install's admin/libraries/BMO), --keyring FILE, or --portal URL");
    }
    const masters = masterList(values.master ?? []);
    const now = new Date();
    const feed = values.feed === undefined ? null : await readFeed(values.feed, values["publication-key"], now);
    const sigs = await Promise.all(positionals.map((directory) => readModuleSigFile(directory)));
    const keys = await gatherKeys(values, sigs, masters, io);
    const results: ModuleResult[] = [];
    for (const [index, directory] of positionals.entries()) {
      results.push(await verifyOne(directory, sigs[index] ?? null, { keys, masters, feed, now, frameworkRoot: values["framework-root"] ?? null }));
    }
    io.stdout.write(values.json ? `${JSON.stringify({ feed: feedSummary(feed), modules: results }, null, 2)}\n` : results.map(describe).join("\n"));
    return results.every((result) => result.report.verdict === "trusted") ? EXIT.ok : EXIT.moduleNotTrusted;
  });
}

/** The module.sig's bytes; null when there is none. A directory that is not there is a usage error. */
async function readModuleSigFile(directory: string): Promise<Uint8Array | null> {
  const info = await stat(directory).catch(() => null);
  if (!info?.isDirectory()) throw usageError(`${directory} is not a directory`);
  const file = path.join(directory, "module.sig");
  const sig = await stat(file).catch(() => null);
  if (sig === null) return null;
  // One byte over the limit is enough for the core to refuse it with its message.
  if (sig.size > MAX_MODULE_SIG_BYTES) return new Uint8Array(MAX_MODULE_SIG_BYTES + 1);
  return new Uint8Array(
    await readFile(file).catch(() => {
      throw usageError(`cannot read ${file}`);
    }),
  );
}

async function gatherKeys(values: Values, sigs: ReadonlyArray<Uint8Array | null>, masters: readonly string[], io: CommandIo): Promise<PublicKey[]> {
  const blobs = await localKeyBlobs(values.keys, values.keyring ?? []);
  if (values.portal !== undefined) {
    const portal = portalUrl(values.portal);
    const wanted = new Set<string>();
    for (const bytes of sigs) {
      const read = bytes === null ? null : await readClearSigned(bytes);
      // By key ID, as FreePBX asks keyservers: the portal answers for a subkey's key ID too.
      if (read?.ok) wanted.add(issuerOf(read.signature).slice(-16));
    }
    for (const id of [...wanted, ...masters]) {
      const blob = await portalKeyBlob(portal, id);
      if (blob !== null) blobs.push(blob);
    }
  }
  const loaded = await loadKeys(blobs);
  for (const problem of loaded.problems) io.stderr.write(`keysign module verify: skipped ${problem}\n`);
  return loaded.keys;
}

interface Context {
  keys: readonly PublicKey[];
  masters: readonly string[];
  feed: FeedStanding | null;
  now: Date;
  frameworkRoot: string | null;
}

async function verifyOne(directory: string, moduleSig: Uint8Array | null, context: Context): Promise<ModuleResult> {
  const module = path.basename(path.resolve(directory));
  const findings: SignatureFindings | null = moduleSig === null ? null : await checkSignature({ moduleSig, keys: context.keys, masters: context.masters, feed: context.feed, now: context.now });
  const listed = [...(findings?.fields?.hashes.keys() ?? [])];
  const locations = listed.map((relative) => listedLocation(directory, relative, context.frameworkRoot));
  const digests = await sha256Files(locations.map((location) => location ?? ""));
  const hashes = new Map(listed.map((relative, index) => [relative, locations[index] === null ? null : (digests[index] ?? null)]));
  const report = judgeModule(findings, hashes, context.feed, context.now);
  const walked = await walkModule(directory);
  const type = findings?.fields?.type ?? null;
  const escaping = listed.filter((_, index) => locations[index] === null);
  if (escaping.length > 0) report.notes.push(`not read, because they point outside the module: ${escaping.join(", ")}`);
  if (walked.unreadable.length > 0) report.notes.push(`directories that could not be read: ${walked.unreadable.join(", ")}`);
  const pointsTo = type === "local" ? `/etc/freepbx.secure/${module}.sig` : null;
  if (pointsTo !== null) report.notes.push(`type=local: FreePBX validates this module against the root-owned ${pointsTo}, not this module.sig`);
  return { module, directory: path.resolve(directory), type, pointsTo, report, unlisted: unlistedFiles(walked.files.map((file) => file.path), new Set(listed)) };
}

/** FreePBX's Installer puts framework's amp_conf/htdocs/X in the web root; with --framework-root WEBROOT that is where X is read. */
function listedLocation(directory: string, relative: string, frameworkRoot: string | null): string | null {
  const mapped = frameworkRoot !== null && relative.startsWith("amp_conf/htdocs/");
  const base = path.resolve(mapped ? frameworkRoot : directory);
  const location = path.resolve(base, mapped ? relative.slice("amp_conf/htdocs/".length) : relative);
  return location.startsWith(`${base}${path.sep}`) ? location : null;
}

function feedSummary(feed: FeedStanding | null): { sequence: number; validUntil: string; stale: boolean } | null {
  return feed === null ? null : { sequence: feed.feed.sequence, validUntil: feed.feed.validUntil, stale: feed.stale };
}

function describe(result: ModuleResult): string {
  const { report } = result;
  const lines = [`${result.module} (${result.directory})`, `  Keysign: ${report.verdict}: ${report.reason}`, `  FreePBX: ${report.status} ${report.names.join("|") || "(no bits)"}`];
  for (const detail of report.details) lines.push(`           ${detail}`);
  if (report.signer) lines.push(`  Signer:  ${report.signer.fingerprint}${report.signer.userIds[0] ? ` ${report.signer.userIds[0]}` : ""}; ${report.signer.hash}, signed ${report.signer.signedAt.slice(0, 10)}`);
  if (report.signer && report.signer.signingKey !== report.signer.fingerprint) lines.push(`           with subkey ${report.signer.signingKey}`);
  const official = result.unlisted.filter((file) => file.official !== null);
  const other = result.unlisted.filter((file) => file.official === null);
  if (other.length > 0) lines.push(`  Unlisted (not covered by the signature): ${preview(other.map((file) => file.path))}`);
  if (official.length > 0) lines.push(`  Unlisted, as official packages leave out (${[...new Set(official.map((file) => file.official))].join(", ")}): ${official.length} file${official.length === 1 ? "" : "s"}`);
  for (const note of report.notes) lines.push(`  Note:    ${note}`);
  return `${lines.join("\n")}\n`;
}

function preview(paths: readonly string[]): string {
  return paths.length <= 5 ? paths.join(", ") : `${paths.slice(0, 5).join(", ")} and ${paths.length - 5} more`;
}
