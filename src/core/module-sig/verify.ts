/**
 * A module's verdict, two ways from the same findings: the status bits and detail lines FreePBX
 * 17 would show (GPG.class.php's checkStatus, checkSig and verifyModule, bit for bit), and
 * Keysign's own single verdict with one reason. They differ on purpose where FreePBX is weak:
 * SHA-1 from a signer that is not FreePBX's, revocations by a master that is not RSA or
 * published only in the portal's status feed, and a feed too old to vouch for anything.
 *
 * Pure: the module.sig bytes, the keys, the feed and the hashes of the files come in; the
 * verdict goes out. Reading the disk and the network is the caller's job.
 */
import type { PublicKey } from "openpgp";
import { hashName } from "../key-policy/messages.ts";
import type { Feed } from "../publication/feed.ts";
import { readModuleSig, type ModuleSigFields } from "./format.ts";
import { candidateSigners, checkHash, FREEPBX_SIGNING_KEYS, issuerOf, keyValidity, readClearSigned, signatureVerifies, type SigningKey } from "./signature.ts";
import { STATUS, statusNames, type StatusName } from "./status.ts";
import { trustOf, validMasters, type Trust } from "./trust.ts";

/** FreePBX's two master keys (current and previous), ultimately trusted on every install. */
export const FREEPBX_MASTERS: readonly string[] = ["0BDE0BFA09946D732091E26E1588A7366BD35B34", "2016349F5BC6F49340FCCAF99F9169F4B33B4659"];

export type Verdict = "trusted" | "tampered" | "untrusted" | "revoked" | "expired" | "unsigned" | "invalid" | "refused" | "stale";

/** The portal's status feed, its signature already checked; `stale` when past its validUntil. */
export interface FeedStanding {
  feed: Feed;
  stale: boolean;
}

export interface SignatureInput {
  moduleSig: Uint8Array;
  keys: readonly PublicKey[];
  masters: readonly string[];
  /** Primary fingerprints whose SHA-1 signatures are accepted; FreePBX's mirror keys unless given. */
  sha1Signers?: readonly string[];
  feed?: FeedStanding | null;
  now: Date;
}

export interface SignerInfo {
  fingerprint: string;
  /** The key that made the signature: the primary's fingerprint, or a subkey's. */
  signingKey: string;
  userIds: string[];
  signedAt: string;
  hash: string;
}

/** What the signature alone says; `judgeModule` adds the files. */
export interface SignatureFindings {
  /** checkSig's status and first detail; `trusted` is FreePBX's TRUST_FULLY/TRUST_ULTIMATE. */
  freepbx: { status: number; detail: string; trusted: boolean };
  signer: SignerInfo | null;
  fields: ModuleSigFields | null;
  /** Keysign's verdict when the signature decides it; null when only the files are left to check. */
  decided: { verdict: Verdict; reason: string } | null;
  /** Why the signer is trusted, for the reason line of a good module. */
  trustedBecause: string;
  notes: string[];
}

const DETAIL = {
  bad: "Bad Signature, Tampered!",
  untrusted: "Signed by unknown, untrusted key.",
  unknown: "Unknown Signature",
  expired: "Signed by Expired Key",
  revoked: "Signed by Revoked Key",
};

function findings(status: number, detail: string, decided: SignatureFindings["decided"], extra: Partial<SignatureFindings> = {}): SignatureFindings {
  return { freepbx: { status, detail, trusted: false }, signer: null, fields: null, decided, trustedBecause: "", notes: [], ...extra };
}

export async function checkSignature(input: SignatureInput): Promise<SignatureFindings> {
  const read = await readClearSigned(input.moduleSig);
  if (!read.ok) return findings(STATUS.INVALID, DETAIL.unknown, { verdict: "invalid", reason: read.reason });
  const candidates = candidateSigners(read.signature, input.keys);
  if (candidates.length === 0) {
    return findings(STATUS.INVALID, DETAIL.unknown, { verdict: "invalid", reason: `module.sig is signed by key ${issuerOf(read.signature)}, which is not in the keys given; add it (--keys, --keyring or --portal)` });
  }
  let signer: SigningKey | null = null;
  for (const candidate of candidates) if (await signatureVerifies(read.signature.packet, candidate, read.text)) signer = candidate;
  if (signer === null) return findings(STATUS.TAMPERED, DETAIL.bad, { verdict: "tampered", reason: "module.sig was changed after it was signed: its signature does not match its text" });
  const parsed = readModuleSig(read.text);
  const info = signerInfo(signer, read.signature.packet.created ?? new Date(0), read.signature.layout.hashAlgorithm);
  const hashCheck = checkHash(read.signature, info.fingerprint, input.sha1Signers ?? FREEPBX_SIGNING_KEYS);
  const masters = await validMasters(input.keys, input.masters, input.now);
  const validity = await keyValidity(signer, input.now);
  const trust = await trustOf(signer.key, validity.primary, input.keys, masters, input.now);
  const freepbx = freepbxCheck(validity, trust);
  const base: Partial<SignatureFindings> = { signer: info, fields: parsed.ok ? parsed.fields : null };
  if (!freepbx.trusted) return findings(freepbx.status, freepbx.detail, keysignFailure(input, signer, validity, trust, hashCheck), base);
  const decided = !hashCheck.ok ? { verdict: "refused" as const, reason: hashCheck.reason } : afterTrust(input, signer, parsed);
  return { freepbx, ...base, signer: info, fields: parsed.ok ? parsed.fields : null, decided, trustedBecause: trustedBecause(trust), notes: [] };
}

function signerInfo(signer: SigningKey, signedAt: Date, hash: number): SignerInfo {
  return {
    fingerprint: signer.key.getFingerprint().toUpperCase(),
    signingKey: (signer.subkey ?? signer.key).getFingerprint().toUpperCase(),
    userIds: signer.key.getUserIDs(),
    signedAt: signedAt.toISOString(),
    hash: hashName(hash),
  };
}

/** checkStatus + checkSig: what gpg's status lines and the `--check-sigs` regex would give. */
function freepbxCheck(validity: Awaited<ReturnType<typeof keyValidity>>, trust: Trust): SignatureFindings["freepbx"] {
  if (validity.expired) return { status: STATUS.GOOD | STATUS.EXPIRED, detail: DETAIL.expired, trusted: false };
  // A key its owner revoked gets REVKEYSIG, which FreePBX does not read, and TRUST_UNDEFINED, which it does.
  if (validity.revoked === null && (trust.level === "ultimate" || trust.level === "full")) return { status: STATUS.GOOD | STATUS.TRUSTED, detail: "", trusted: true };
  if (trust.freepbxSees.length > 0) return { status: STATUS.REVOKED, detail: DETAIL.revoked, trusted: false };
  // TRUST_MARGINAL is not one of the lines FreePBX reads: only VALIDSIG's GOOD is left.
  if (trust.level === "marginal" && validity.revoked === null) return { status: STATUS.GOOD, detail: "", trusted: false };
  return { status: STATUS.GOOD | STATUS.TAMPERED | STATUS.INVALID, detail: DETAIL.untrusted, trusted: false };
}

function keysignFailure(input: SignatureInput, signer: SigningKey, validity: Awaited<ReturnType<typeof keyValidity>>, trust: Trust, hashCheck: ReturnType<typeof checkHash>): SignatureFindings["decided"] {
  const who = `key ${signer.key.getFingerprint().toUpperCase()}`;
  if (!hashCheck.ok) return { verdict: "refused", reason: hashCheck.reason };
  if (validity.revoked) return { verdict: "revoked", reason: `${who} was revoked by its owner on ${day(validity.revoked.at)}${validity.revoked.reason ? ` (${validity.revoked.reason})` : ""}` };
  const fed = feedRevocation(input.feed ?? null, signer.key);
  if (fed) return fed;
  const revoked = trust.revoked[0];
  if (revoked?.revoked) {
    const missed = trust.freepbxSees.length === 0 ? "; FreePBX would not see this revocation (its check expects an RSA master key) and would call the module signed by an invalid key" : "";
    return { verdict: "revoked", reason: `the master's certification of ${who} was revoked on ${day(revoked.revoked.at)}${revoked.revoked.reason ? ` (${revoked.revoked.reason})` : ""}${missed}` };
  }
  if (validity.expired) return { verdict: "expired", reason: `${who}, which made the signature, has expired; the developer must extend it or sign with a current key` };
  if (validity.unusable) return { verdict: "invalid", reason: `${validity.unusable}` };
  if (trust.level === "marginal" && trust.introducer) {
    return {
      verdict: "untrusted",
      reason: `${who} is certified only by ${trust.introducer.getFingerprint().toUpperCase()}, which a master trusts as an introducer; that gives marginal validity, and installs need a direct certification by a master`,
    };
  }
  return { verdict: "untrusted", reason: `${who} has no valid certification by a master key; installs would say the module is signed by an invalid key` };
}

/** A trusted signature: Keysign still refuses a revoked certification (feed), an expired module.sig and a stale feed. */
function afterTrust(input: SignatureInput, signer: SigningKey, parsed: ReturnType<typeof readModuleSig>): SignatureFindings["decided"] {
  const fed = feedRevocation(input.feed ?? null, signer.key);
  if (fed) return fed;
  if (!parsed.ok) return { verdict: "invalid", reason: `module.sig's signed text is not INI text FreePBX can read (${parsed.reason})` };
  if (expiredModuleSig(parsed.fields, input.now)) return { verdict: "revoked", reason: `module.sig says it expires after ${day(new Date((parsed.fields.expiresAfter ?? 0) * 1000))}` };
  return null;
}

function feedRevocation(feed: FeedStanding | null, key: PublicKey): SignatureFindings["decided"] {
  if (feed === null) return null;
  const fingerprint = key.getFingerprint().toUpperCase();
  const entries = feed.feed.entries.filter((entry) => entry.fingerprint === fingerprint);
  const revoked = entries.find((entry) => entry.state === "revoked" && !entries.some((other) => other.state === "certified" && other.certifiedAt > (entry.revokedAt ?? "")));
  if (!revoked) return null;
  return { verdict: "revoked", reason: `the portal revoked the certification of key ${fingerprint} on ${(revoked.revokedAt ?? "").slice(0, 10)}${revoked.reason ? ` (${revoked.reason.replaceAll("_", " ")})` : ""}` };
}

export function expiredModuleSig(fields: ModuleSigFields, now: Date): boolean {
  return Number(fields.version) > 1 && fields.expiresAfter !== null && fields.expiresAfter * 1000 < now.getTime();
}

function trustedBecause(trust: Trust): string {
  if (trust.level === "ultimate") return "signed by a master key";
  if (!trust.via) return "certified";
  return `certified by master ${trust.via.master.getFingerprint().toUpperCase()} on ${day(trust.via.at)}`;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** One listed file as found: its SHA-256, or null when it is missing. */
export type FileHashes = ReadonlyMap<string, string | null>;

export interface ModuleReport {
  status: number;
  names: StatusName[];
  /** FreePBX's detail lines. */
  details: string[];
  verdict: Verdict;
  reason: string;
  signer: SignerInfo | null;
  files: { listed: number; missing: string[]; altered: string[] };
  notes: string[];
}

/** verifyModule: `signature` null means there is no module.sig. `hashes` holds every listed file. */
export function judgeModule(signature: SignatureFindings | null, hashes: FileHashes, feed: FeedStanding | null = null, now = new Date()): ModuleReport {
  const files = { listed: 0, missing: [] as string[], altered: [] as string[] };
  if (signature === null) return report(STATUS.UNSIGNED, ["unsigned"], "unsigned", "there is no module.sig: FreePBX shows the module as unsigned", null, files, []);
  const { freepbx, fields, signer } = signature;
  if (!freepbx.trusted) {
    const decided = signature.decided ?? { verdict: "untrusted" as const, reason: freepbx.detail };
    return report(freepbx.status, [`module.sig check failed! ${freepbx.detail}`], decided.verdict, decided.reason, signer, files, signature.notes);
  }
  if (fields === null) return report(STATUS.INVALID, ["module.sig check failed! unreadable"], "invalid", signature.decided?.reason ?? "module.sig cannot be read", signer, files, signature.notes);
  if (expiredModuleSig(fields, now)) return report(STATUS.REVOKED, ["Module signature expired"], "revoked", signature.decided?.reason ?? "module.sig expired", signer, files, signature.notes);
  let status: number = STATUS.GOOD | STATUS.TRUSTED;
  const details: string[] = [];
  for (const [path, expected] of fields.hashes) {
    files.listed += 1;
    const actual = hashes.get(path) ?? null;
    if (actual !== null && actual === expected.toLowerCase()) continue;
    (actual === null ? files.missing : files.altered).push(path);
    details.push(`${path} ${actual === null ? "missing" : "altered"}`);
    status = (status | STATUS.TAMPERED) & ~STATUS.GOOD;
  }
  const decided = signature.decided ?? filesVerdict(files) ?? staleVerdict(feed) ?? { verdict: "trusted" as const, reason: `${signature.trustedBecause}; all ${files.listed} listed files match` };
  return report(status, details, decided.verdict, decided.reason, signer, files, signature.notes);
}

function filesVerdict(files: ModuleReport["files"]): { verdict: Verdict; reason: string } | null {
  const changed = [...files.missing.map((path) => `${path} is missing`), ...files.altered.map((path) => `${path} was altered`)];
  if (changed.length === 0) return null;
  return { verdict: "tampered", reason: `${changed[0]}${changed.length > 1 ? ` (and ${changed.length - 1} more listed file${changed.length > 2 ? "s" : ""})` : ""}; the signature itself is good` };
}

function staleVerdict(feed: FeedStanding | null): { verdict: Verdict; reason: string } | null {
  if (feed === null || !feed.stale) return null;
  return { verdict: "stale", reason: `revocation status stale since ${feed.feed.validUntil}: the signature and files are good, but the portal's feed is too old to say the certification is not revoked; fetch a current feed` };
}

function report(status: number, details: string[], verdict: Verdict, reason: string, signer: SignerInfo | null, files: ModuleReport["files"], notes: string[]): ModuleReport {
  return { status, names: statusNames(status), details, verdict, reason, signer, files, notes };
}
