/**
 * The offline signer's work on one batch, without any input or output of its own: open and
 * check the batch, re-check every item (defence in depth), ask for a decision per item, sign
 * what was approved with a MasterSigner, check every signature made as the portal will, and
 * seal the result.
 *
 * An item the signer refuses on its own (its key changed, fails the intake policy, lost a user
 * ID, ...) is declined with the reason, not signed; the rest of the batch goes on. Aborting
 * the whole batch would hold back every other applicant for one bad item, and the portal
 * needs the decline to tell staff what happened.
 *
 * A signature that fails its own check is a signer fault, not an item's: nothing is written.
 */
import { PublicKeyPacket, type PublicKey } from "openpgp";
import { DEFAULT_KEY_POLICY, inspectKey, type KeyFacts } from "../key-policy.ts";
import { inspectionConfig } from "../openpgp-config.ts";
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import { equalBytes, scanPackets, TAG, writePacket } from "../key-policy/packets.ts";
import { parseKeyPacket, parseSignature, type ParsedSignature } from "../key-policy/structure.ts";
import { CERTIFICATION_TYPES, userIdBytes } from "./certification.ts";
import { checkResult } from "./result-check.ts";
import { batchRevocationText, sealedRevocationText } from "./revocation-text.ts";
import { issuerFingerprint, openEnvelope, sealEnvelope, sha256Hex } from "./envelope.ts";
import {
  encodePayload,
  FORMAT_VERSION,
  isCertifying,
  parseBatchPayload,
  type BatchItem,
  type BatchPayload,
  type CertifyingItem,
  type ResultItem,
  type ResultPayload,
  type RevokeItem,
} from "./formats.ts";
import type { MasterSigner, SigningTarget } from "./master-signer.ts";
import { MasterKeyError } from "./software-signer.ts";
import { TransferError } from "./transfer-error.ts";
import { assembleCertifiedKey } from "./certified-key.ts";

export const OFFICER_DECLINED = "declined by the signing officer";

export interface BatchPins {
  queueKey: PublicKey;
  /** The pinned master fingerprint, upper-case hex. */
  master: string;
}

export interface OpenedBatch {
  /** The batch file's exact bytes. */
  file: Uint8Array;
  sha256: string;
  batch: BatchPayload;
  signedAt: Date;
}

/** Verifies the batch's signature by the pinned queue key, parses it and applies `checkBatch`. */
export async function openBatch(file: Uint8Array, pins: BatchPins, now: Date): Promise<OpenedBatch> {
  const opened = await openEnvelope(file, "batch", pins.queueKey, "queue key");
  const batch = parseBatchPayload(opened.payload);
  checkBatch(batch, { queueKey: pins.queueKey.getFingerprint().toUpperCase(), master: pins.master }, now);
  return { file, sha256: opened.sha256, batch, signedAt: opened.signedAt };
}

/** The rules a verified batch must still keep to be signed now; throws a TransferError. */
export function checkBatch(batch: BatchPayload, pinned: { queueKey: string; master: string }, now: Date): void {
  const refuse = (code: string, message: string) => new TransferError(`KEYSIGN_ERR_BATCH_${code}`, message);
  if (batch.queueKey !== pinned.queueKey) {
    throw refuse("QUEUE_KEY", `Batch ${batch.batch} names queue key ${formatFingerprint(batch.queueKey)}, not the pinned ${formatFingerprint(pinned.queueKey)}.`);
  }
  if (batch.master !== pinned.master) {
    throw refuse("MASTER", `Batch ${batch.batch} is for master key ${formatFingerprint(batch.master)}; this signer is pinned to ${formatFingerprint(pinned.master)}.`);
  }
  if (now > new Date(batch.expiresAt)) {
    throw refuse("EXPIRED", `Batch ${batch.batch} expired at ${batch.expiresAt}; export a new batch from the portal.`);
  }
  if (now < new Date(batch.createdAt)) {
    throw refuse("CLOCK", `Batch ${batch.batch} was created at ${batch.createdAt}, after this machine's time ${now.toISOString()}: this machine's clock may be wrong.`);
  }
  const ids = new Set<string>();
  for (const item of batch.items) {
    if (ids.has(item.id)) throw refuse("DUPLICATE", `Batch ${batch.batch} lists item ${item.id} twice.`);
    ids.add(item.id);
  }
}

/** One item after the signer's own checks. */
export interface ItemReview {
  item: BatchItem;
  /** What the intake policy says about the key now; null when the key does not pass it. */
  facts: KeyFacts | null;
  /** Intake policy warnings (RSA below 3072, expiring soon, ...). */
  warnings: string[];
  /** Why the signer declines this item by itself; null when it may be signed. */
  refusal: string | null;
}

interface ReviewedKey {
  review: ItemReview;
  /** The target's primary key packet, when the key's bytes could be read. */
  primary: PublicKeyPacket | null;
  keyBinary: Uint8Array;
  /** For a revoke item: the certification being revoked, per user ID. */
  revoking: Map<string, ParsedSignature>;
}

/** Re-runs the intake policy and the batch's own claims about the item's key at `now`. */
export async function reviewItem(item: BatchItem, master: PublicKey, now: Date): Promise<ItemReview> {
  return (await reviewKey(item, master, now)).review;
}

async function reviewKey(item: BatchItem, master: PublicKey, now: Date): Promise<ReviewedKey> {
  const keyBinary = new Uint8Array(Buffer.from(item.key, "base64"));
  const inspected = await inspectKey(keyBinary, { ...DEFAULT_KEY_POLICY, now });
  const facts = inspected.ok ? inspected.facts : null;
  const warnings = inspected.ok ? inspected.warnings.map((warning) => warning.message) : [];
  const primary = await readPrimary(keyBinary);
  const revoking = new Map<string, ParsedSignature>();
  const policyRefusal = inspected.ok ? null : `the key fails the intake policy now: ${inspected.problems.map((problem) => problem.message).join(" ")}`;
  const refusal =
    (sha256Hex(keyBinary) === item.keySha256 ? null : "the key's bytes do not match the SHA-256 recorded at approval; the key was changed") ??
    (primary === null ? "the key cannot be read" : null) ??
    (primary !== null && primary.getFingerprint().toUpperCase() !== item.fingerprint
      ? `the key's fingerprint is ${formatFingerprint(primary.getFingerprint())}, not the approved ${formatFingerprint(item.fingerprint)}`
      : null) ??
    duplicateUserId(item.userIds) ??
    (isCertifying(item) ? (policyRefusal ?? unboundUserId(item, facts)) : await revokeRefusal(item, keyBinary, primary, master, revoking));
  return { review: { item, facts, warnings, refusal }, primary, keyBinary, revoking };
}

async function readPrimary(keyBinary: Uint8Array): Promise<PublicKeyPacket | null> {
  const scan = scanPackets(keyBinary);
  const first = scan.complete ? scan.packets[0] : undefined;
  if (first?.tag !== TAG.publicKey) return null;
  return parseKeyPacket(new PublicKeyPacket(), first.body);
}

function duplicateUserId(userIds: readonly string[]): string | null {
  const duplicate = userIds.find((userId, index) => userIds.indexOf(userId) !== index);
  return duplicate === undefined ? null : `user ID ${JSON.stringify(duplicate)} is listed twice`;
}

function unboundUserId(item: CertifyingItem, facts: KeyFacts | null): string | null {
  const bound = new Set(facts?.userIds.map((user) => user.userId) ?? []);
  const missing = item.userIds.find((userId) => !bound.has(userId));
  return missing === undefined ? null : `user ID ${JSON.stringify(missing)} is not bound to the key by a valid self-signature`;
}

/**
 * A revocation is still wanted when the key has expired or was revoked by its owner, so the
 * intake policy does not decide here. What must hold: each user ID is in the key, and each
 * carries one of the item's certifications, made by the master over this key and user ID.
 */
async function revokeRefusal(
  item: RevokeItem,
  keyBinary: Uint8Array,
  primary: PublicKeyPacket | null,
  master: PublicKey,
  revoking: Map<string, ParsedSignature>,
): Promise<string | null> {
  if (primary === null) return "the key cannot be read";
  const userIdPackets = scanPackets(keyBinary).packets.filter((packet) => packet.tag === TAG.userId);
  const certifications = item.certifications.map(readCertification);
  for (const userId of item.userIds) {
    const raw = userIdBytes(userId);
    if (!userIdPackets.some((packet) => equalBytes(packet.body, raw))) return `user ID ${JSON.stringify(userId)} is not in the key`;
    const found = await findCertification(certifications, master, primary, raw);
    if (found === null) return `none of the item's certifications is the master's certification of ${JSON.stringify(userId)} on this key`;
    revoking.set(userId, found);
  }
  return null;
}

function readCertification(base64: string): ParsedSignature | null {
  const scan = scanPackets(new Uint8Array(Buffer.from(base64, "base64")));
  const [first] = scan.packets;
  if (!scan.complete || scan.packets.length !== 1 || first?.tag !== TAG.signature) return null;
  return parseSignature(first.body);
}

async function findCertification(certifications: readonly (ParsedSignature | null)[], master: PublicKey, key: PublicKeyPacket, userId: Uint8Array): Promise<ParsedSignature | null> {
  const config = inspectionConfig({ minRsaBits: DEFAULT_KEY_POLICY.minRsaBits });
  for (const signature of certifications) {
    if (signature === null || !CERTIFICATION_TYPES.includes(signature.layout.signatureType)) continue;
    if (issuerFingerprint(signature) !== master.getFingerprint().toUpperCase()) continue;
    const data = { key, userID: { write: () => userId } };
    const verified = await signature.packet.verify(master.keyPacket, signature.layout.signatureType, data, signature.packet.created ?? undefined, false, config).then(
      () => true,
      () => false,
    );
    if (verified) return signature;
  }
  return null;
}

/** The copy of the key a keyring-based backend imports before revoking: GnuPG can only revoke a certification it holds. */
function withCertification(keyBinary: Uint8Array, userId: string, certification: Uint8Array): Uint8Array {
  return assembleCertifiedKey(keyBinary, [{ userId, certification }]);
}

export type Decision = { approve: true } | { approve: false; reason: string };

export interface SignBatchOptions {
  opened: OpenedBatch;
  signer: MasterSigner;
  /** The master's public key, to check every signature made before it is written. */
  master: PublicKey;
  /** Asked once per item the signer does not refuse by itself. */
  decide(review: ItemReview): Promise<Decision>;
  /** Told about each item the signer refused by itself. */
  refused?(review: ItemReview): void;
  /** Called once every item has its decision, before the first signature is made. */
  decided?(): void;
  /** Called after each signature is made: every certification, then every revocation. */
  progress?(done: number, total: number): void;
  now(): Date;
}

export interface SignedBatch {
  payload: ResultPayload;
  /** The sealed result file. */
  file: Uint8Array;
  counts: { certified: number; revoked: number; declined: number };
}

interface Plan {
  reviewed: ReviewedKey;
  decision: Decision;
}

export async function signBatch(options: SignBatchOptions): Promise<SignedBatch> {
  const { opened, master } = options;
  for (const [what, fingerprint] of [["signer holds", options.signer.fingerprint], ["public key given is", master.getFingerprint().toUpperCase()]] as const) {
    if (fingerprint !== opened.batch.master) {
      throw new MasterKeyError(`The ${what} ${formatFingerprint(fingerprint)}, not the batch's master ${formatFingerprint(opened.batch.master)}.`);
    }
  }
  const plans = await decideAll(options);
  options.decided?.();
  const now = options.now();
  // Deciding can take a while: the batch must still be valid when the signatures are made.
  checkBatch(opened.batch, { queueKey: opened.batch.queueKey, master: opened.batch.master }, now);
  const date = signatureDate(now, new Date(opened.batch.createdAt));
  const signed = await signApproved(options, plans.filter((plan) => plan.decision.approve).map((plan) => plan.reviewed), date);
  const items = plans.map((plan): ResultItem => {
    const { id } = plan.reviewed.review.item;
    return plan.decision.approve ? (signed.get(id) ?? missing(id)) : { id, status: "declined", reason: plan.decision.reason };
  });
  return seal(options, items, date);
}

function missing(id: string): never {
  throw new Error(`item ${id} was approved but not signed`);
}

async function decideAll(options: SignBatchOptions): Promise<Plan[]> {
  const now = options.now();
  const plans: Plan[] = [];
  for (const item of options.opened.batch.items) {
    const reviewed = await reviewKey(item, options.master, now);
    const { refusal } = reviewed.review;
    if (refusal !== null) options.refused?.(reviewed.review);
    const decision: Decision = refusal === null ? await options.decide(reviewed.review) : { approve: false, reason: `refused by the signer: ${refusal}` };
    plans.push({ reviewed, decision: decision.approve ? decision : { approve: false, reason: decision.reason.trim() || OFFICER_DECLINED } });
  }
  return plans;
}

/**
 * OpenPGP times are whole seconds. The signer's time, rounded down, unless that falls before
 * the batch was created (same second), where the portal's window starts.
 */
function signatureDate(now: Date, notBefore: Date): Date {
  const floored = Math.floor(now.getTime() / 1000) * 1000;
  return new Date(Math.max(floored, Math.ceil(notBefore.getTime() / 1000) * 1000));
}

interface Certified {
  reviewed: ReviewedKey;
  userId: string;
  certification: Uint8Array;
}

/**
 * Every certification first, then every revocation. A sealed revocation must be dated at
 * least one second after its certification (GnuPG 2.2 orders same-second pairs by packet
 * position); made in this order, a signer on the wall clock (GnuPG) has to wait for that
 * second at most once, at the turn from the first pass to the second.
 */
async function signApproved(options: SignBatchOptions, approved: readonly ReviewedKey[], date: Date): Promise<Map<string, ResultItem>> {
  const progress = counter(options, approved.reduce((sum, reviewed) => sum + reviewed.review.item.userIds.length * (isCertifying(reviewed.review.item) ? 2 : 1), 0));
  const certified: Certified[] = [];
  for (const reviewed of approved) {
    const { item } = reviewed.review;
    if (!isCertifying(item)) continue;
    for (const userId of item.userIds) {
      certified.push({ reviewed, userId, certification: await options.signer.certify(target(reviewed, userId), item.certification, date) });
      progress();
    }
  }
  const results = new Map<string, ResultItem>();
  for (const { reviewed, userId, certification } of certified) {
    const item = reviewed.review.item as CertifyingItem;
    const keyBinary = withCertification(reviewed.keyBinary, userId, certification);
    const sealedAt = new Date(createdAt(certification, date).getTime() + 1000);
    const revocation = await options.signer.revoke({ ...target(reviewed, userId), keyBinary }, sealedRevocationText(options.opened.batch.organisation, item.statusUrl), sealedAt);
    progress();
    const entry = { userId, certification: base64(certification), revocation: base64(revocation) };
    const earlier = results.get(item.id);
    results.set(item.id, { id: item.id, status: "certified", userIds: earlier?.status === "certified" ? [...earlier.userIds, entry] : [entry] });
  }
  for (const reviewed of approved) {
    const { item } = reviewed.review;
    if (item.kind === "revoke") results.set(item.id, await revokeItem(options, reviewed, item, date, progress));
  }
  return results;
}

async function revokeItem(options: SignBatchOptions, reviewed: ReviewedKey, item: RevokeItem, date: Date, progress: () => void): Promise<ResultItem> {
  const reason = batchRevocationText(options.opened.batch.organisation, item.reason, item.statusUrl);
  const revocations = [];
  for (const userId of item.userIds) {
    const certification = reviewed.revoking.get(userId);
    if (certification === undefined) throw new Error(`no certification kept for ${userId}`);
    const keyBinary = withCertification(reviewed.keyBinary, userId, writePacket(TAG.signature, certification.raw));
    revocations.push({ userId, revocation: base64(await options.signer.revoke({ ...target(reviewed, userId), keyBinary }, reason, date)) });
    progress();
  }
  return { id: item.id, status: "revoked", revocations };
}

function target(reviewed: ReviewedKey, userId: string): SigningTarget {
  if (reviewed.primary === null) throw new Error("an approved item has no readable key");
  return { key: reviewed.primary, keyBinary: reviewed.keyBinary, fingerprint: reviewed.review.item.fingerprint, userId: userIdBytes(userId) };
}

/** When a signature the backend made says it was made; `fallback` when it cannot be read (the final check refuses it). */
function createdAt(packet: Uint8Array, fallback: Date): Date {
  const [first] = scanPackets(packet).packets;
  return (first?.tag === TAG.signature ? parseSignature(first.body)?.packet.created : null) ?? fallback;
}

function counter(options: SignBatchOptions, total: number): () => void {
  let done = 0;
  return () => options.progress?.((done += 1), total);
}

async function seal(options: SignBatchOptions, items: ResultItem[], date: Date): Promise<SignedBatch> {
  const { opened } = options;
  const payload: ResultPayload = {
    format: "keysign-result",
    version: FORMAT_VERSION,
    batch: opened.batch.batch,
    batchSha256: sha256Hex(opened.file),
    master: opened.batch.master,
    signedAt: date.toISOString(),
    items,
  };
  const bytes = encodePayload(payload);
  const file = sealEnvelope("result", bytes, await options.signer.signFile(bytes, date));
  await openEnvelope(file, "result", options.master, "master key").catch((error: unknown) => {
    const why = error instanceof Error ? error.message : String(error);
    throw new MasterKeyError(`The result file's signature fails its own check (${why}); nothing was written.`, "KEYSIGN_ERR_SIGNER_CHECK");
  });
  await finalCheck(options, payload);
  const count = (status: ResultItem["status"]) => items.filter((item) => item.status === status).length;
  return { payload, file, counts: { certified: count("certified"), revoked: count("revoked"), declined: count("declined") } };
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

/**
 * The whole result through the very check the portal's import runs (result-check.ts), so
 * the officer learns of a bad signature here rather than at the portal. A failure is a fault
 * of the signer, not of an item: nothing is written.
 */
async function finalCheck(options: SignBatchOptions, payload: ResultPayload): Promise<void> {
  const { opened, master } = options;
  const checked = await checkResult(payload, { batch: opened.batch, batchSha256: opened.sha256, master, now: options.now(), config: inspectionConfig({ minRsaBits: DEFAULT_KEY_POLICY.minRsaBits }) });
  if (checked.ok) return;
  const problems = checked.problems.map((problem) => `${problem.itemId === null ? "result" : `item ${problem.itemId}`}: ${problem.rule}: ${problem.message}`);
  throw new MasterKeyError(`The signatures made fail the portal's check, so nothing was written:\n  ${problems.join("\n  ")}`, "KEYSIGN_ERR_SIGNER_CHECK");
}
