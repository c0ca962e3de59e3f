/**
 * "Check a module": an outsider's module.sig (and optionally the module's .tgz) judged the way
 * `keysign module verify` judges an installed module, with key material from this portal only:
 * the signer found by its key ID among the published keys, and the portal's master key. Nothing
 * the uploader sends is used as a key, and nothing is stored.
 */
import { readModuleArchive, type ArchiveRefusal, type ModuleArchive } from "../core/module-sig/archive.ts";
import { loadKeys, type KeyBlob } from "../core/module-sig/keyring.ts";
import { unlistedFiles } from "../core/module-sig/manifest.ts";
import { candidateSigners, issuerOf, readClearSigned } from "../core/module-sig/signature.ts";
import type { StatusName } from "../core/module-sig/status.ts";
import { checkSignature, FREEPBX_MASTERS, judgeModule, type ModuleReport, type SignatureFindings, type Verdict } from "../core/module-sig/verify.ts";
import { keyStatus, type KeyState } from "../core/publication/key-status.ts";
import { publishedForm } from "../core/publication/published-key.ts";
import { isRevocationReasonCode, REVOCATION_REASONS } from "../core/revocation-reasons.ts";
import type { Db } from "../db/client.ts";
import { FormError } from "../errors.ts";
import { findCertificationRecords } from "../repositories/publication.ts";
import { readSettings } from "../repositories/settings.ts";
import { readMasterKeys } from "../repositories/master-keys.ts";
import { lookupPublishedKeys } from "./publication.ts";

export interface ModuleCheckInput {
  moduleSig: Uint8Array;
  archive: Uint8Array | null;
}

export type FileResult = "ok" | "altered" | "missing";

/** One certification period of the signer's key, as its status page shows it. */
export interface StandingPeriod {
  state: KeyState;
  certifiedAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  reasonCode: string | null;
  reason: string | null;
}

/** The result, as the page shows it and as `docs/modules.md` documents the JSON. */
export interface ModuleCheck {
  verdict: Verdict;
  reason: string;
  freepbx: { status: number; names: StatusName[]; details: string[] };
  /** The key the signature names (fingerprint, or key ID when it names no fingerprint). */
  issuer: string | null;
  signer: { fingerprint: string; signingKey: string; hash: string; signedAt: string } | null;
  /** The signer's standing with this portal; null when the portal never certified the key. */
  standing: { fingerprint: string; state: KeyState; statusUrl: string; periods: StandingPeriod[] } | null;
  moduleSig: { version: string; type: string; signedWith: string; listed: number } | null;
  /** Null when no archive was given: the files were not checked. */
  archive: { module: string; entries: number; unpackedBytes: number; files: Array<{ path: string; result: FileResult }>; unlisted: Array<{ path: string; official: string | null }> } | null;
  notes: string[];
}

/** Refusals of the archive: a 413 for size, 422 for what it holds. */
const ARCHIVE_STATUS: Readonly<Record<ArchiveRefusal, number>> = {
  too_large: 413, not_gzip: 422, damaged: 422, truncated: 422, entries: 422, total: 422, ratio: 422, path: 422, link: 422, type: 422, layout: 422,
};

export async function checkModule(db: Db, input: ModuleCheckInput, now: Date): Promise<ModuleCheck> {
  const read = await readClearSigned(input.moduleSig);
  if (!read.ok) throw new FormError([{ field: "moduleSig", code: "KEYSIGN_ERR_MODULE_SIG_UNREADABLE", message: `${read.reason}. Choose the module.sig file from the module's top directory. Nothing was stored.` }], 422);
  const archive = input.archive === null ? null : await readArchive(input.archive);
  const issuer = issuerOf(read.signature);
  const settings = await readSettings(db);
  const blobs: KeyBlob[] = (await lookupPublishedKeys(db, { kind: "keyId", value: issuer.slice(-16) })).map((source) => ({ source: `published key ${source.fingerprint}`, bytes: publishedForm(source) }));
  if (settings.masterPublicKey !== "") blobs.push({ source: "the portal's master key", bytes: new TextEncoder().encode(settings.masterPublicKey) });
  // After a rotation installs trust the new and the retired master too (docs/master-rotation.md).
  const others = (await readMasterKeys(db)).filter((master) => master.role !== "current");
  for (const master of others) blobs.push({ source: `the portal's ${master.role} master key`, bytes: new TextEncoder().encode(master.publicKey) });
  const { keys } = await loadKeys(blobs);
  const masters = [...FREEPBX_MASTERS, ...(settings.masterFingerprint ? [settings.masterFingerprint.toUpperCase()] : []), ...others.map((master) => master.fingerprint)];
  const findings = await checkSignature({ moduleSig: input.moduleSig, keys, masters, now });
  const unknown = candidateSigners(read.signature, keys).length === 0;
  const report = archive === null ? signatureOnly(findings, now) : judgeModule(findings, archive.files, null, now);
  if (unknown) report.reason = `module.sig is signed by key ${issuer}, which this portal does not publish: no certification of it is known here, and installs would show the module's signature as unknown. Ask the developer which key they sign with`;
  return {
    verdict: report.verdict,
    reason: report.reason,
    freepbx: { status: report.status, names: report.names, details: report.details },
    issuer,
    signer: report.signer && { fingerprint: report.signer.fingerprint, signingKey: report.signer.signingKey, hash: report.signer.hash, signedAt: report.signer.signedAt },
    standing: report.signer ? await standingOf(db, report.signer.fingerprint, now) : null,
    moduleSig: findings.fields && { version: findings.fields.version, type: findings.fields.type, signedWith: findings.fields.signedWith, listed: findings.fields.hashes.size },
    archive: archive && archiveResults(archive, findings, report),
    notes: [...report.notes, ...(archive?.unresolvedLinks.length ? [`links that lead to no file of the archive, not hashed: ${archive.unresolvedLinks.join(", ")}`] : [])],
  };
}

async function readArchive(bytes: Uint8Array): Promise<ModuleArchive> {
  const read = await readModuleArchive(bytes);
  if (read.ok) return read.archive;
  const message = `${read.reason} Nothing was stored.`;
  throw new FormError([{ field: "archive", code: `KEYSIGN_ERR_MODULE_ARCHIVE_${read.refusal.toUpperCase()}`, message }], ARCHIVE_STATUS[read.refusal]);
}

/**
 * Without the archive only the signature is judged: the listed files are taken as they are
 * listed (so the verdict is the signature's), and the reason says the files were not checked.
 */
function signatureOnly(findings: SignatureFindings, now: Date): ModuleReport {
  const listed = new Map([...(findings.fields?.hashes ?? new Map<string, string>())].map(([path, hash]) => [path, hash.toLowerCase()]));
  const report = judgeModule(findings, listed, null, now);
  if (report.verdict === "trusted") report.reason = `${findings.trustedBecause}; the files were not checked: add the module's .tgz to check them too`;
  return report;
}

function archiveResults(archive: ModuleArchive, findings: SignatureFindings, report: ModuleReport): NonNullable<ModuleCheck["archive"]> {
  const listed = [...(findings.fields?.hashes.keys() ?? [])];
  const altered = new Set(report.files.altered);
  const missing = new Set(report.files.missing);
  // Files are judged only when the signature is trusted; otherwise compare them all the same, for information.
  const judged = report.files.listed > 0;
  const resultOf = (path: string): FileResult => {
    if (judged) return missing.has(path) ? "missing" : altered.has(path) ? "altered" : "ok";
    const actual = archive.files.get(path);
    return actual === undefined ? "missing" : actual === findings.fields?.hashes.get(path)?.toLowerCase() ? "ok" : "altered";
  };
  return {
    module: archive.module,
    entries: archive.entries,
    unpackedBytes: archive.unpackedBytes,
    files: listed.map((path) => ({ path, result: resultOf(path) })),
    unlisted: unlistedFiles([...archive.files.keys()], new Set(listed)),
  };
}

async function standingOf(db: Db, fingerprint: string, now: Date): Promise<ModuleCheck["standing"]> {
  const status = keyStatus(await findCertificationRecords(db, fingerprint), now);
  if (status === null) return null;
  return {
    fingerprint,
    state: status.state,
    statusUrl: `/keys/${fingerprint}`,
    periods: status.periods.map((period) => ({
      state: period.state,
      certifiedAt: period.certifiedAt.toISOString(),
      expiresAt: period.expiresAt?.toISOString() ?? null,
      revokedAt: period.revokedAt?.toISOString() ?? null,
      reasonCode: period.revocationReason,
      reason: period.revocationReason === null ? null : isRevocationReasonCode(period.revocationReason) ? REVOCATION_REASONS[period.revocationReason] : "Not given",
    })),
  };
}
