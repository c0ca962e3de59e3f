/**
 * Owner updates: what of a key its owner sends again (by `gpg --send-keys` or an upload) is
 * merged into the published copy. Pure: no database, no clock but `options.now`.
 *
 * Kept, each verified against the primary key with intake's own checks:
 *   - newer self-certifications of the user IDs the portal published (0x10–0x13) and newer
 *     direct-key self-signatures (0x1F): an extended or shortened expiry, new preferences;
 *   - the owner's revocations: of the key (0x20), of a subkey (0x28), of a published user ID
 *     (0x30), by the primary key itself only (no designated revokers);
 *   - new subkeys that intake would keep (accepted algorithm and size, valid binding, and a
 *     valid back-signature for a signing subkey), and newer bindings of published subkeys.
 * Stripped: new user IDs, user attributes, signatures by any other key (the master's included:
 * master signatures come only from the signing queue), signatures with a weak hash or a hashed
 * subpacket outside the allowlist, and anything the intake bounds refuse before parsing.
 *
 * The result is the union of the published copy and what was kept (see canonical-union.ts),
 * so nothing published is ever dropped, and the same inputs always give the same bytes.
 */
import { createHash } from "node:crypto";
import { enums, PublicKeyPacket, PublicSubkeyPacket, type Config } from "openpgp";
import { findValidRevocation, isIssuedBy, isWeakHash, selectNewest, TooManyFailedVerifications, VerificationBudgetExceeded, type Verifier } from "../key-policy/binding.ts";
import { embeddedBackSignature, writeSignature } from "../key-policy/canonical.ts";
import { primaryExpiry } from "../key-policy/evaluate.ts";
import { messages } from "../key-policy/messages.ts";
import { equalBytes, scanPackets, TAG, type Packet } from "../key-policy/packets.ts";
import { groupPackets, parseKeyPacket, parseSignature, type ParsedSignature, type SubkeyComponent, type UserComponent } from "../key-policy/structure.ts";
import { capabilitiesOf, expiryOf, judgeSubkey } from "../key-policy/subkeys.ts";
import { LIMITS, type KeyPolicyOptions, type PolicyProblem } from "../key-policy/types.ts";
import { addSignature, readLayout, signatureIdentity, unionCanonical, writeLayout, type CanonicalLayout, type LayoutComponent } from "./canonical-union.ts";

export type UpdateChange =
  | { kind: "expiry"; from: string | null; to: string | null }
  | { kind: "self-signature-renewed" }
  | { kind: "user-id-revoked"; userId: string }
  | { kind: "subkey-added"; fingerprint: string; capabilities: string[]; expiresAt: string | null }
  | { kind: "subkey-renewed"; fingerprint: string; expiresAt: string | null }
  | { kind: "subkey-revoked"; fingerprint: string }
  | { kind: "key-revoked" };

/** What an upload carried that was not merged, counted so the answer can say so. */
export interface Stripped {
  userIds: number;
  userAttributes: number;
  /** Signatures by other keys, unreadable ones, and self-signatures that failed a check. */
  signatures: number;
  subkeys: number;
}

export interface UpdateSummary {
  changes: UpdateChange[];
  stripped: Stripped;
}

export type OwnerUpdateResult =
  | { kind: "refused"; problem: PolicyProblem }
  | { kind: "unchanged"; fingerprint: string; summary: UpdateSummary }
  | { kind: "merged"; fingerprint: string; canonicalKey: Uint8Array; sha256: string; summary: UpdateSummary };

export const OWNER_UPDATE_CODES = Object.freeze({
  notCertified: "KEYSIGN_ERR_UPDATE_NOT_CERTIFIED",
  tooLarge: "KEYSIGN_ERR_UPDATE_TOO_LARGE",
});

export const NOT_CERTIFIED_MESSAGE =
  "This keyserver publishes only keys certified by the organisation; this key is not one of them, so nothing was stored. " +
  "To have a key certified, apply for certification on the portal.";

export function notCertified(): PolicyProblem {
  return { code: OWNER_UPDATE_CODES.notCertified, message: NOT_CERTIFIED_MESSAGE };
}

/**
 * Hashed subpackets a self-signature or revocation from an owner may carry (SECURITY.md: returned
 * structures are accepted by allowlist). Left out on purpose: revocation keys (12, they would
 * let another key revoke this one), non-exportable marks (4), trust and regular expressions
 * (5, 6), preferred keyservers (24, installs must keep refreshing from here), signature targets
 * and attestations (31, 37, 38) and anything unknown.
 */
const ALLOWED_SUBPACKETS: ReadonlySet<number> = new Set([2, 3, 7, 9, 11, 16, 20, 21, 22, 23, 25, 26, 27, 29, 30, 32, 33, 34, 39]);
const CERTIFICATIONS = [enums.signature.certGeneric, enums.signature.certPersona, enums.signature.certCasual, enums.signature.certPositive];

interface Context {
  primary: PublicKeyPacket;
  verifier: Verifier;
  options: KeyPolicyOptions;
  /** Identities of the signatures already published, so they are not checked again. */
  known: ReadonlySet<string>;
  stripped: Stripped;
}

/** The fingerprint of the key the intake-framed `packets` start with, or null if unreadable. */
export async function fingerprintOf(packets: readonly Packet[]): Promise<string | null> {
  const first = packets[0];
  if (first?.tag !== TAG.publicKey) return null;
  const packet = await parseKeyPacket(new PublicKeyPacket(), first.body);
  return packet ? packet.getFingerprint().toUpperCase() : null;
}

/**
 * Merges an owner's upload (`packets`, already through intake's bounds) into `published`, the
 * canonical copy the portal publishes now. `masterSignatures` (whole packets, as stored) are
 * the published certifications and revocations: a key sent back as fetched carries them, and
 * they are neither merged nor reported as stripped.
 */
export async function mergeOwnerUpdate(
  published: Uint8Array,
  packets: readonly Packet[],
  options: KeyPolicyOptions,
  config: Config,
  masterSignatures: readonly Uint8Array[] = [],
): Promise<OwnerUpdateResult> {
  const current = readLayout(published);
  const primary = await parseKeyPacket(new PublicKeyPacket(), current.primary.raw);
  if (!primary) throw new Error("the published key's primary packet does not parse");
  if (packets[0]?.tag !== TAG.publicKey || !equalBytes(packets[0].body, current.primary.raw)) return { kind: "refused", problem: notCertified() };
  const context: Context = {
    primary,
    options,
    verifier: { primary, now: options.now, config, failures: { count: 0 }, spent: { cost: 0 } },
    known: new Set([...publishedSignatures(current), ...masterSignatures.flatMap((packet) => scanPackets(packet).packets.map((p) => p.body))].map(signatureIdentity)),
    stripped: { userIds: 0, userAttributes: 0, signatures: 0, subkeys: 0 },
  };
  let accepted: CanonicalLayout;
  try {
    accepted = await acceptedMaterial(current, packets, context);
  } catch (error) {
    if (error instanceof TooManyFailedVerifications) return { kind: "refused", problem: messages.badSelfSignatures() };
    if (error instanceof VerificationBudgetExceeded) return { kind: "refused", problem: messages.tooManyChecks() };
    throw error;
  }
  const merged = unionCanonical(published, writeLayout(accepted));
  const fingerprint = primary.getFingerprint().toUpperCase();
  const summary = { changes: await describeChanges(current, readLayout(merged), primary), stripped: context.stripped };
  if (equalBytes(merged, published)) return { kind: "unchanged", fingerprint, summary };
  if (merged.length > LIMITS.maxCanonicalBytes) return { kind: "refused", problem: { code: OWNER_UPDATE_CODES.tooLarge, message: tooLargeMessage(merged.length) } };
  return { kind: "merged", fingerprint, canonicalKey: merged, sha256: createHash("sha256").update(merged).digest("hex"), summary };
}

function tooLargeMessage(bytes: number): string {
  return `With this update the published key would be ${bytes} bytes; the limit is ${LIMITS.maxCanonicalBytes} bytes (256 KiB), so nothing was stored. Remove large notations from the new self-signatures and send the key again.`;
}

function publishedSignatures(layout: CanonicalLayout): Uint8Array[] {
  return [layout.primary, ...layout.userIds, ...layout.subkeys].flatMap((entry) => [...(entry.selfSignature ? [entry.selfSignature] : []), ...entry.revocations]);
}

/** The verified new material of the upload, as a canonical layout of the same primary key. */
async function acceptedMaterial(current: CanonicalLayout, packets: readonly Packet[], context: Context): Promise<CanonicalLayout> {
  const structure = await groupPackets(packets);
  context.stripped.signatures += structure.direct.unreadable;
  const accepted: CanonicalLayout = { primary: { raw: current.primary.raw, selfSignature: null, revocations: [] }, userIds: [], subkeys: [] };
  const direct = candidates(structure.direct.signatures, context);
  const keyData = { key: context.primary };
  const revocation = await findValidRevocation(direct, enums.signature.keyRevocation, keyData, context.verifier);
  if (revocation) addSignature(accepted.primary, normalised(revocation, context));
  const directSelection = await selectNewest(direct, [enums.signature.key], keyData, context.verifier, context.primary.created);
  if (directSelection.state === "valid" && !isWeakHash(directSelection.signature.layout.hashAlgorithm)) addSignature(accepted.primary, normalised(directSelection.signature, context));
  const published = new Set(current.userIds.map((entry) => Buffer.from(entry.raw).toString("hex")));
  for (const user of structure.users) {
    const kept = published.has(Buffer.from(user.raw).toString("hex")) ? await acceptUserId(user, context) : strip(user, context);
    if (kept) accepted.userIds.push(kept);
  }
  accepted.subkeys = await acceptSubkeys(current, structure.subkeys, context);
  return accepted;
}

/** New user IDs and user attributes are never merged: certifying identities is the review's job. */
function strip(user: UserComponent, context: Context): null {
  if (user.kind === "userAttribute") context.stripped.userAttributes += 1;
  else context.stripped.userIds += 1;
  context.stripped.signatures += user.signatures.filter((signature) => !isIssuedBy(signature, context.primary)).length + user.unreadable;
  return null;
}

/**
 * The upload's signatures worth checking: by the primary key, not already published, with a
 * strong hash and only allowlisted hashed subpackets. Anything else is counted as stripped.
 */
function candidates(signatures: readonly ParsedSignature[], context: Context): ParsedSignature[] {
  const fresh = signatures.filter((signature) => !context.known.has(signatureIdentity(signature.raw)));
  const usable = fresh.filter((signature) => isIssuedBy(signature, context.primary) && !isWeakHash(signature.layout.hashAlgorithm) && hasAllowedSubpackets(signature));
  context.stripped.signatures += fresh.length - usable.length;
  return usable;
}

function hasAllowedSubpackets(signature: ParsedSignature): boolean {
  return signature.layout.hashed.every((subpacket) => ALLOWED_SUBPACKETS.has(subpacket.type));
}

/** The signature as the canonical copy stores it: hashed area as signed, unhashed area rebuilt. */
function normalised(signature: ParsedSignature, context: Context): Uint8Array {
  return bodyOf(writeSignature(signature, context.primary.getKeyID(), []));
}

function bodyOf(packet: Uint8Array): Uint8Array {
  const body = scanPackets(packet).packets[0]?.body;
  if (!body) throw new Error("a written signature packet does not frame");
  return body;
}

async function acceptUserId(user: UserComponent, context: Context): Promise<LayoutComponent | null> {
  context.stripped.signatures += user.unreadable;
  const signatures = candidates(user.signatures, context);
  const data = { key: context.primary, userID: { write: () => user.raw } };
  const kept: LayoutComponent = { raw: user.raw, selfSignature: null, revocations: [] };
  const revocation = await findValidRevocation(signatures, enums.signature.certRevocation, data, context.verifier);
  if (revocation) addSignature(kept, normalised(revocation, context));
  const selection = await selectNewest(signatures, CERTIFICATIONS, data, context.verifier, context.primary.created);
  if (selection.state === "valid") addSignature(kept, normalised(selection.signature, context));
  return kept.selfSignature || kept.revocations.length > 0 ? kept : null;
}

/**
 * Published subkeys may get a newer binding and a revocation; a new subkey is added when intake
 * would keep it, in creation order (then by its bytes), up to the key policy's subkey limit.
 */
async function acceptSubkeys(current: CanonicalLayout, components: readonly SubkeyComponent[], context: Context): Promise<LayoutComponent[]> {
  const published = new Set(current.subkeys.map((entry) => Buffer.from(entry.raw).toString("hex")));
  const kept: LayoutComponent[] = [];
  const added: Array<{ entry: LayoutComponent; created: number }> = [];
  for (const component of components) {
    context.stripped.signatures += component.unreadable;
    const isPublished = published.has(Buffer.from(component.raw).toString("hex"));
    const entry = await acceptSubkey(component, isPublished, context);
    if (entry === null) context.stripped.subkeys += isPublished ? 0 : 1;
    else if (isPublished) kept.push(entry);
    else added.push({ entry, created: component.packet?.created.getTime() ?? 0 });
  }
  added.sort((a, b) => a.created - b.created || Buffer.compare(Buffer.from(a.entry.raw), Buffer.from(b.entry.raw)));
  const room = Math.max(0, LIMITS.maxSubkeys - current.subkeys.length);
  context.stripped.subkeys += Math.max(0, added.length - room);
  return [...kept, ...added.slice(0, room).map((item) => item.entry)];
}

async function acceptSubkey(component: SubkeyComponent, isPublished: boolean, context: Context): Promise<LayoutComponent | null> {
  const packet = component.packet;
  if (packet === null) return null;
  const signatures = candidates(component.signatures, context);
  const entry: LayoutComponent = { raw: component.raw, selfSignature: null, revocations: [] };
  const data = { key: context.primary, bind: packet };
  const revocation = await findValidRevocation(signatures, enums.signature.subkeyRevocation, data, context.verifier);
  // A subkey revoked before it was ever published has nothing to offer installs.
  if (revocation && !isPublished) return null;
  if (revocation) addSignature(entry, normalised(revocation, context));
  const bindings = signatures.filter((signature) => signature.layout.signatureType === enums.signature.subkeyBinding);
  const verdict = bindings.length === 0 ? null : await judgeSubkey({ ...component, signatures: bindings }, context.verifier, context.options.minRsaBits);
  if (verdict?.kind === "kept") {
    const binding = writeSignature(verdict.subkey.binding, context.primary.getKeyID(), embeddedBackSignature(verdict.subkey));
    addSignature(entry, bodyOf(binding));
  }
  return entry.selfSignature || entry.revocations.length > 0 ? entry : null;
}

/** What the merge changed, read from the two copies themselves. */
async function describeChanges(before: CanonicalLayout, after: CanonicalLayout, primary: PublicKeyPacket): Promise<UpdateChange[]> {
  const changes: UpdateChange[] = [];
  const from = expiryOfLayout(before, primary);
  const to = expiryOfLayout(after, primary);
  if (from?.getTime() !== to?.getTime()) changes.push({ kind: "expiry", from: iso(from), to: iso(to) });
  else if (selfSignaturesOf(before).join() !== selfSignaturesOf(after).join()) changes.push({ kind: "self-signature-renewed" });
  for (const entry of after.userIds) {
    const old = before.userIds.find((other) => equalBytes(other.raw, entry.raw));
    if (entry.revocations.length > (old?.revocations.length ?? 0)) changes.push({ kind: "user-id-revoked", userId: new TextDecoder().decode(entry.raw) });
  }
  for (const entry of after.subkeys) changes.push(...(await subkeyChanges(before.subkeys.find((other) => equalBytes(other.raw, entry.raw)) ?? null, entry)));
  if (after.primary.revocations.length > before.primary.revocations.length) changes.push({ kind: "key-revoked" });
  return changes;
}

function selfSignaturesOf(layout: CanonicalLayout): string[] {
  return [layout.primary, ...layout.userIds].map((entry) => (entry.selfSignature ? signatureIdentity(entry.selfSignature) : ""));
}

async function subkeyChanges(before: LayoutComponent | null, after: LayoutComponent): Promise<UpdateChange[]> {
  const packet = await parseKeyPacket(new PublicSubkeyPacket(), after.raw);
  const binding = after.selfSignature ? parseSignature(after.selfSignature) : null;
  if (!packet || !binding) return [];
  const fingerprint = packet.getFingerprint().toUpperCase();
  const expiresAt = iso(expiryOf(packet.created, binding));
  const changes: UpdateChange[] = [];
  if (before === null) changes.push({ kind: "subkey-added", fingerprint, capabilities: capabilitiesOf(binding.packet.keyFlags?.[0] ?? 0), expiresAt });
  else if (before.selfSignature && signatureIdentity(before.selfSignature) !== signatureIdentity(after.selfSignature ?? new Uint8Array())) changes.push({ kind: "subkey-renewed", fingerprint, expiresAt });
  if (after.revocations.length > (before?.revocations.length ?? 0)) changes.push({ kind: "subkey-revoked", fingerprint });
  return changes;
}

function expiryOfLayout(layout: CanonicalLayout, primary: PublicKeyPacket): Date | null {
  const direct = layout.primary.selfSignature ? parseSignature(layout.primary.selfSignature) : null;
  const users = layout.userIds.flatMap((entry) => {
    const selfSignature = entry.selfSignature ? parseSignature(entry.selfSignature) : null;
    return selfSignature ? [{ raw: entry.raw, selfSignature }] : [];
  });
  return primaryExpiry(primary.created, direct, users);
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

/** One line per change, for the HKP answer, the request page and the email. */
export function describeChange(change: UpdateChange): string {
  switch (change.kind) {
    case "expiry":
      return change.to === null ? "The key no longer expires." : `The key now expires on ${day(change.to)}${change.from ? ` (before: ${day(change.from)})` : " (before: no expiry)"}.`;
    case "self-signature-renewed":
      return "The key's self-signatures were renewed (its preferences or usage changed; its expiry did not).";
    case "user-id-revoked":
      return `You revoked the user ID ${JSON.stringify(change.userId)}.`;
    case "subkey-added":
      return `Subkey ${change.fingerprint} was added (${change.capabilities.join(", ") || "no usage"}${change.expiresAt ? `, expires on ${day(change.expiresAt)}` : ", no expiry"}).`;
    case "subkey-renewed":
      return `Subkey ${change.fingerprint} ${change.expiresAt ? `now expires on ${day(change.expiresAt)}` : "no longer expires"}.`;
    case "subkey-revoked":
      return `Subkey ${change.fingerprint} was revoked.`;
    case "key-revoked":
      return "You revoked the whole key. It stays published with its revocation, so every install that refreshes it learns of it.";
  }
}

/** What was left out, in a sentence, or null when nothing was. */
export function describeStripped(stripped: Stripped): string | null {
  const parts = [
    stripped.userIds > 0 ? `${stripped.userIds} user ID(s) that were not certified (apply for a new certification to add them)` : null,
    stripped.userAttributes > 0 ? `${stripped.userAttributes} photo ID(s)` : null,
    stripped.subkeys > 0 ? `${stripped.subkeys} subkey(s) without a valid binding, with a refused algorithm or beyond the limit of ${LIMITS.maxSubkeys}` : null,
    stripped.signatures > 0 ? `${stripped.signatures} signature(s) by other keys or that did not pass the checks` : null,
  ].filter((part): part is string => part !== null);
  return parts.length === 0 ? null : `Not merged: ${parts.join("; ")}.`;
}

function day(isoDate: string): string {
  return isoDate.slice(0, 10);
}
