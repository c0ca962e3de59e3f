/**
 * Writes docs/examples/: one batch and its signed result, made by the portal's own export
 * functions and the offline signer's code (src/core), with throwaway keys generated here.
 * Run with `npx tsx scripts/build-transfer-examples.ts` after changing the transfer format.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { generateKey } from "openpgp";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey } from "../src/core/key-policy.ts";
import { openEnvelope, sealEnvelope, sha256Hex, signDetached } from "../src/core/transfer/envelope.ts";
import { encodePayload, FORMAT_VERSION, type BatchPayload, type CertifyItem } from "../src/core/transfer/formats.ts";
import { keyStatusUrl } from "../src/core/transfer/revocation-text.ts";
import { openBatch, signBatch } from "../src/core/transfer/sign-batch.ts";
import { openSoftwareSigner } from "../src/core/transfer/software-signer.ts";
import { notationsFor } from "../src/services/batch-export.ts";

const out = path.resolve(import.meta.dirname, "..", "docs", "examples");
const CREATED = new Date("2026-11-24T12:00:00Z");
const SIGNED = new Date("2026-11-24T12:01:00Z");
const PORTAL = "https://keysign.example.org";
const USER_ID = "Alice Example <alice@example.org>";

const throwaway = (name: string, email: string) => generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name, email }], date: new Date("2026-01-01T00:00:00Z"), format: "object" });
const [queue, master, alice] = await Promise.all([throwaway("Keysign queue", "queue@keysign.example.org"), throwaway("Example master", "master@example.org"), throwaway("Alice Example", "alice@example.org")]);

const policy = { ...DEFAULT_KEY_POLICY, now: CREATED };
const inspected = await inspectKey(new TextEncoder().encode(alice.publicKey.armor()), policy);
if (!inspected.ok) throw new Error("the example key fails the policy");
const key = await canonicalizeKey(inspected.minimal, [USER_ID], policy);
const request = { id: "eb8f261f-5313-4d47-85ae-81ff09b9d619", agreementSha256: "cfb9042cdd7b3bf23f63a3ddf81c9c385460255fa4c4c56e1629ccd986941cc4" };
const item: CertifyItem = {
  kind: "certify",
  id: "28249130-0cde-4d91-a02b-1bde00fbc58f",
  requestId: request.id,
  revision: 1,
  fingerprint: key.fingerprint,
  key: Buffer.from(key.binary).toString("base64"),
  keySha256: key.sha256,
  userIds: [USER_ID],
  approvals: [
    { staff: "rita@keysign.example.org", at: "2026-11-24T11:00:00.000Z" },
    { staff: "ravi@keysign.example.org", at: "2026-11-24T11:30:00.000Z" },
  ],
  statusUrl: keyStatusUrl(PORTAL, key.fingerprint),
  certification: { validityDays: 730, policyUrl: "", notations: notationsFor("keys.example.org", request, 1) },
  history: [],
};
const batch: BatchPayload = {
  format: "keysign-batch",
  version: FORMAT_VERSION,
  batch: 1,
  portal: PORTAL,
  organisation: "Example Org",
  createdAt: CREATED.toISOString(),
  expiresAt: new Date(CREATED.getTime() + 14 * 86_400_000).toISOString(),
  queueKey: queue.privateKey.getFingerprint().toUpperCase(),
  master: master.privateKey.getFingerprint().toUpperCase(),
  items: [item],
};
const batchBytes = encodePayload(batch);
const batchFile = sealEnvelope("batch", batchBytes, await signDetached(batchBytes, queue.privateKey, CREATED));

const opened = await openBatch(batchFile, { queueKey: queue.publicKey, master: batch.master }, SIGNED);
const signer = await openSoftwareSigner({ armoredSecretKey: master.privateKey.armor(), passphrase: null, fingerprint: batch.master, now: SIGNED });
const signed = await signBatch({ opened, signer, master: master.publicKey, decide: async () => ({ approve: true }), now: () => SIGNED });
await openEnvelope(signed.file, "result", master.publicKey, "master key");

const write = (name: string, bytes: Uint8Array | string) => writeFileSync(path.join(out, name), bytes);
write("batch-1.json", batchFile);
write("batch-1.payload.json", `${new TextDecoder().decode(batchBytes)}\n`);
write("batch-1.result.json", signed.file);
write("batch-1.result.payload.json", `${new TextDecoder().decode(encodePayload(signed.payload))}\n`);
console.log(`batch-1.json SHA-256 ${sha256Hex(batchFile)}; result SHA-256 ${sha256Hex(signed.file)}`);
