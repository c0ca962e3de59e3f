/**
 * Fixture: turns a submitted request into a certified one without a signing ceremony. A
 * throwaway master key (saved as the master key setting) makes real certifications of the
 * request's user IDs, and, unless `sealed` is false, the sealed revocations the signer makes
 * a second later (made before sealed revocations named the organisation, as older rows are); the rows are written straight to the database. The signing queue's
 * own tests cover the real export and import.
 */
import { randomUUID } from "node:crypto";
import * as openpgp from "openpgp";
import { makeCertification, makeRevocation, userIdBytes } from "../../src/core/transfer/certification.ts";
import type { TestApp } from "./app.ts";
import { makeMaster } from "./signing-queue.ts";
import { createStaff, signInStaff } from "./staff.ts";

export interface CertifiedRequest {
  master: openpgp.PrivateKey;
  fingerprint: string;
  canonicalKey: Uint8Array;
  certifications: Array<{ userId: string; certification: Uint8Array; sealedRevocation: Uint8Array }>;
}

export async function certifyRequest(t: TestApp, requestId: string, options: { sealed?: boolean; master?: openpgp.PrivateKey } = {}): Promise<CertifiedRequest> {
  const db = t.app.db;
  const master = options.master ?? (await makeMaster());
  const settings: Array<[string, string]> = [["masterPublicKey", master.toPublic().armor()], ["masterFingerprint", master.getFingerprint().toUpperCase()]];
  for (const [key, value] of settings) {
    await db.setting.upsert({ where: { key }, create: { key, value }, update: { value } });
  }
  const key = await db.requestKey.findFirstOrThrow({ where: { requestId }, orderBy: { revision: "desc" } });
  const keyPacket = (await openpgp.readKey({ binaryKey: key.canonicalKey })).keyPacket as openpgp.PublicKeyPacket;
  const at = new Date(t.clock.now.getTime() - 3_600_000);
  const certifications = [];
  for (const userId of JSON.parse(key.certifyUserIds) as string[]) {
    const target = { key: keyPacket, userId: userIdBytes(userId) };
    const certification = await makeCertification(master, target, { validityDays: 730, policyUrl: "", notations: [] }, at);
    const sealedRevocation = await makeRevocation(master, target, "sealed revocation", new Date(at.getTime() + 1000));
    await db.certification.create({
      data: { id: randomUUID(), requestId, batchNumber: 1, userId, signature: new Uint8Array(certification), sealedRevocation: options.sealed === false ? null : new Uint8Array(sealedRevocation), certifiedAt: at, masterFingerprint: master.getFingerprint().toUpperCase() },
    });
    certifications.push({ userId, certification, sealedRevocation });
  }
  await db.request.update({ where: { id: requestId }, data: { state: "certified", version: { increment: 1 } } });
  // As a real result import does once it commits: the portal's caches of what is published are out of date.
  t.app.publication.changed();
  return { master, fingerprint: key.fingerprint, canonicalKey: new Uint8Array(key.canonicalKey), certifications };
}

export const REVIEWER = "rita@keysign.example";

/** A reviewer whose one approval decides (quorum 1), so a proposed revocation applies at once. */
export async function soleReviewer(t: TestApp): Promise<void> {
  await createStaff(t, { email: REVIEWER, roles: ["reviewer"] });
  await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: "1" }, update: { value: "1" } });
}

/** Revokes a certified request through the staff page as the sole reviewer; returns the response. */
export async function revokeAsSoleReviewer(t: TestApp, requestId: string, reasonCode: string, reasonText = "") {
  const reviewer = await signInStaff(t, REVIEWER);
  const page = await reviewer.get(`/admin/requests/${requestId}`);
  const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
  return reviewer.postForm(`/admin/requests/${requestId}/revocations`, { version, reasonCode, reasonText }, `/admin/requests/${requestId}`);
}
