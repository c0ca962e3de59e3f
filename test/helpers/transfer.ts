/**
 * Real keys and signed transfer files for tests of the signer and of result import: a portal
 * queue key, a master key (software, passphrase-protected) and batch files built from test
 * keys exactly as the portal exports them (canonical key, SHA-256, signed envelope).
 */
import assert from "node:assert/strict";
import * as openpgp from "openpgp";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey } from "../../src/core/key-policy.ts";
import { inspectionConfig } from "../../src/core/openpgp-config.ts";
import { scanPackets } from "../../src/core/key-policy/packets.ts";
import { openEnvelope, sealEnvelope, sha256Hex, signDetached } from "../../src/core/transfer/envelope.ts";
import { checkResult, type VerifiedOutcome } from "../../src/core/transfer/result-check.ts";
import { encodePayload, FORMAT_VERSION, parseResultPayload, type Approval, type BatchItem, type BatchPayload, type CertifyItem, type Notation, type RevokeItem } from "../../src/core/transfer/formats.ts";
import type { TestKey } from "./keys.ts";

const DAY = 86_400_000;

export interface SigningKey {
  fingerprint: string;
  publicArmored: string;
  /** Armored secret key; passphrase-protected when one was given. */
  secretArmored: string;
  publicKey: openpgp.PublicKey;
  /** The unlocked secret key, for signing in-process. */
  privateKey: openpgp.PrivateKey;
}

/** RSA-3072 is there for tests that need an RSA master without RSA-4096's generation time. */
export type MasterType = "ed25519" | "rsa3072" | "rsa4096";

async function makeKey(
  options: { type: MasterType; userId: { name: string; email: string }; passphrase?: string; date?: Date },
): Promise<SigningKey> {
  const date = options.date ?? new Date(Date.now() - 30 * DAY);
  const algorithm = options.type === "ed25519" ? ({ type: "ecc", curve: "ed25519Legacy" } as const) : ({ type: "rsa", rsaBits: options.type === "rsa4096" ? 4096 : 3072 } as const);
  const { privateKey } = await openpgp.generateKey({ ...algorithm, userIDs: [options.userId], date, format: "object" });
  const secret = options.passphrase ? await openpgp.encryptKey({ privateKey, passphrase: options.passphrase }) : privateKey;
  return {
    fingerprint: privateKey.getFingerprint().toUpperCase(),
    publicArmored: privateKey.toPublic().armor(),
    secretArmored: secret.armor(),
    publicKey: privateKey.toPublic(),
    privateKey,
  };
}

/** The portal's queue key: Ed25519 (v4 legacy EdDSA), created 30 days ago, no passphrase. */
export function makeQueueKey(options: { date?: Date } = {}): Promise<SigningKey> {
  return makeKey({ type: "ed25519", userId: { name: "Keysign queue", email: "queue@portal.example" }, ...options });
}

/** A master key that can certify and sign, created 30 days ago; `passphrase` protects the armored secret. */
export function makeMasterKey(options: { type?: MasterType; passphrase?: string; date?: Date } = {}): Promise<SigningKey> {
  return makeKey({ type: options.type ?? "ed25519", userId: { name: "Keysign master", email: "master@example.org" }, ...options });
}

/**
 * A master key whose primary cannot certify: a newer self-signature carries only the "sign"
 * key flag (openpgp.js always generates certify-capable primaries, so the flag is taken away).
 */
export async function makeSignOnlyKey(passphrase?: string): Promise<SigningKey> {
  const base = await makeMasterKey();
  const key = base.privateKey;
  const user = key.users[0];
  if (!user?.userID) throw new Error("generated key has no user ID");
  const signature = new openpgp.SignaturePacket();
  signature.signatureType = openpgp.enums.signature.certPositive;
  signature.publicKeyAlgorithm = key.keyPacket.algorithm;
  signature.hashAlgorithm = openpgp.enums.hash.sha256;
  signature.keyFlags = new Uint8Array([openpgp.enums.keyFlags.signData]);
  signature.issuerKeyVersion = 4;
  signature.issuerFingerprint = key.keyPacket.getFingerprintBytes();
  signature.issuerKeyID = key.getKeyID();
  const date = new Date(key.getCreationTime().getTime() + 60_000);
  signature.created = date;
  const sign = signature.sign.bind(signature) as (key: unknown, data: unknown, date: Date, detached: boolean, config: openpgp.Config) => Promise<void>;
  await sign(key.keyPacket, { userID: user.userID, key: key.keyPacket }, date, false, { ...openpgp.config });
  user.selfCertifications.push(signature);
  const secret = passphrase ? await openpgp.encryptKey({ privateKey: key, passphrase }) : key;
  return { ...base, publicArmored: key.toPublic().armor(), secretArmored: secret.armor(), publicKey: key.toPublic() };
}

export interface ItemOptions {
  id?: string;
  requestId?: string;
  approvals?: Approval[];
  /** When the key is canonicalised; defaults to now. */
  now?: Date;
}

async function canonical(testKey: TestKey, userIds: string[], now: Date) {
  const options = { ...DEFAULT_KEY_POLICY, now };
  const inspected = await inspectKey(new TextEncoder().encode(testKey.publicArmored), options);
  if (!inspected.ok) throw new Error(`test key refused: ${inspected.problems.map((problem) => problem.message).join(" ")}`);
  return canonicalizeKey(inspected.minimal, userIds, options);
}

let counter = 0;
function nextId(prefix: string): string {
  counter += 1;
  return `${prefix}${counter}`;
}

const DEFAULT_APPROVALS: Approval[] = [
  { staff: "reviewer@portal.example", at: "2026-01-02T10:00:00.000Z" },
  { staff: "officer@portal.example", at: "2026-01-02T11:00:00.000Z" },
];

/** A certify item for `userIds` of `testKey`, carrying the canonical key as the portal exports it. */
export async function certifyItem(
  testKey: TestKey,
  userIds: string[],
  options: ItemOptions & { revision?: number; validityDays?: number; policyUrl?: string; notations?: Notation[]; history?: CertifyItem["history"] } = {},
): Promise<CertifyItem> {
  const key = await canonical(testKey, userIds, options.now ?? new Date());
  const requestId = options.requestId ?? nextId("req");
  return {
    kind: "certify",
    id: options.id ?? nextId("item"),
    requestId,
    fingerprint: key.fingerprint,
    key: Buffer.from(key.binary).toString("base64"),
    keySha256: key.sha256,
    userIds: key.userIds,
    approvals: options.approvals ?? DEFAULT_APPROVALS,
    statusUrl: `https://portal.example/keys/${key.fingerprint}`,
    revision: options.revision ?? 1,
    certification: {
      validityDays: options.validityDays ?? 365,
      policyUrl: options.policyUrl ?? "https://portal.example/policy",
      notations: options.notations ?? [
        { name: "request@portal.example", value: requestId },
        { name: "agreement@portal.example", value: "sha256:5f726fa33edf" },
      ],
    },
    history: options.history ?? [],
  };
}

/** A revoke item for certifications (signature packets, base64) the master made on `testKey`. */
export async function revokeItem(
  testKey: TestKey,
  userIds: string[],
  certifications: string[],
  options: ItemOptions & { reason?: { code: string; text: string } } = {},
): Promise<RevokeItem> {
  const key = await canonical(testKey, userIds, options.now ?? new Date());
  return {
    kind: "revoke",
    id: options.id ?? nextId("item"),
    requestId: options.requestId ?? nextId("req"),
    fingerprint: key.fingerprint,
    key: Buffer.from(key.binary).toString("base64"),
    keySha256: key.sha256,
    userIds: key.userIds,
    approvals: options.approvals ?? DEFAULT_APPROVALS,
    certifications,
    reason: options.reason ?? { code: "other", text: "the developer withdrew the request" },
    statusUrl: `https://portal.example/keys/${key.fingerprint}`,
  };
}

export const ORGANISATION = "Example Org";

export interface BatchFileOptions {
  queueKey: SigningKey;
  /** The master fingerprint the batch is for. */
  master: string;
  items: BatchItem[];
  batch?: number;
  portal?: string;
  createdAt?: Date;
  expiresAt?: Date;
}

export interface BatchFile {
  file: Uint8Array;
  payload: BatchPayload;
  sha256: string;
}

/** A batch payload signed by the queue key at `createdAt` (default: an hour ago; expires in a week). */
export async function makeBatchFile(options: BatchFileOptions): Promise<BatchFile> {
  const createdAt = options.createdAt ?? new Date(Date.now() - 3_600_000);
  const payload: BatchPayload = {
    format: "keysign-batch",
    version: FORMAT_VERSION,
    batch: options.batch ?? 1,
    portal: options.portal ?? "https://portal.example",
    organisation: ORGANISATION,
    createdAt: createdAt.toISOString(),
    expiresAt: (options.expiresAt ?? new Date(createdAt.getTime() + 7 * DAY)).toISOString(),
    queueKey: options.queueKey.fingerprint,
    master: options.master,
    items: options.items,
  };
  return sealBatch(payload, options.queueKey.privateKey, createdAt);
}

/** Signs and seals any batch payload with `key`, for tests that need a payload the helper would not build. */
export async function sealBatch(payload: BatchPayload, key: openpgp.PrivateKey, date: Date): Promise<BatchFile> {
  const bytes = encodePayload(payload);
  const file = sealEnvelope("batch", bytes, await signDetached(bytes, key, date));
  return { file, payload, sha256: sha256Hex(file) };
}

/** The portal's whole-result check, exactly as its import runs it; fails the test naming every problem. */
export async function assertPortalAccepts(resultFile: Uint8Array, batch: { file: Uint8Array; payload: BatchPayload }, master: openpgp.PublicKey, now = new Date()): Promise<VerifiedOutcome[]> {
  const opened = await openEnvelope(resultFile, "result", master, "master key");
  const checked = await checkResult(parseResultPayload(opened.payload), { batch: batch.payload, batchSha256: sha256Hex(batch.file), master, now, config: inspectionConfig({ minRsaBits: 2048 }) });
  assert.ok(checked.ok, checked.ok ? "" : checked.problems.map((problem) => `${problem.itemId}: ${problem.rule}: ${problem.message}`).join("\n"));
  return checked.outcomes;
}

/** What a signature packet says in its reason-for-revocation subpacket: [code, text]. */
export function revocationReason(packet: Uint8Array): [number | null, string | null] {
  const [first] = scanPackets(packet).packets;
  const parsed = new openpgp.SignaturePacket();
  parsed.read(first?.body ?? new Uint8Array());
  return [parsed.reasonForRevocationFlag, parsed.reasonForRevocationString];
}
