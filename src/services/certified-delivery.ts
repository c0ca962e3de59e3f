/**
 * Delivery of certified keys, caff style: one email per certified user ID, sent to that user
 * ID's own address, carrying the key with only that user ID and its certification. When the
 * key can receive encrypted mail the attachment is encrypted to it, so only the key holder can
 * read and import it. Also the full certified key the request pages offer for download.
 */
import { createMessage, encrypt, readKey, type Config as OpenPgpConfig, type PublicKey } from "openpgp";
import type { Config } from "../config.ts";
import { normaliseAddress } from "../core/email-address.ts";
import { checkUserId } from "../core/key-policy/user-id.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { isRequestState } from "../core/request-lifecycle.ts";
import { userIdBytes } from "../core/transfer/certification.ts";
import { assembleCertifiedKey } from "../core/transfer/certified-key.ts";
import type { Db, Tx } from "../db/client.ts";
import { NotFoundError } from "../errors.ts";
import { enqueueEmail, type MailAttachment } from "../repositories/outbox.ts";
import { messageIdDomain } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";
import { armorPublicKey } from "../core/key-policy.ts";

export interface CertifiedKeyEmailsInput {
  requestId: string;
  fingerprint: string;
  canonicalKey: Uint8Array;
  certifications: { userId: string; certification: Uint8Array }[];
  config: Config;
  now: Date;
}

/** Queues the emails inside the caller's transaction (the import), so they exist exactly when the certification does. */
export async function queueCertifiedKeyEmails(tx: Tx, input: CertifiedKeyEmailsInput): Promise<void> {
  const request = await tx.request.findUnique({
    where: { id: input.requestId },
    select: { renewsRequestId: true, applicant: { select: { email: true, addresses: { where: { confirmedAt: { not: null } }, select: { address: true } } } } },
  });
  if (!request) throw new NotFoundError();
  const confirmed = new Set(request.applicant.addresses.map((a) => a.address));
  const config = openPgpConfig(input.config);
  const key = await readKey({ binaryKey: input.canonicalKey, config });
  if (key.getFingerprint().toUpperCase() !== input.fingerprint) throw new Error("the certified key is not the request's key");
  const encrypted = await canEncryptTo(key, input.now, config);
  const common = await emailCommon(tx, input.config);
  for (const entry of input.certifications) {
    const armored = armorPublicKey(assembleCertifiedKey(input.canonicalKey, [entry], { onlyUserId: entry.userId }));
    const attachment = encrypted ? await encryptedAttachment(armored, key, input, config) : plainAttachment(armored, input.fingerprint);
    const email = renderEmail("request-certified", {
      fingerprint: input.fingerprint,
      userId: entry.userId,
      filename: attachment.filename,
      encrypted,
      link: `${input.config.PUBLIC_URL}/requests/${input.requestId}`,
      renewal: request.renewsRequestId !== null,
    }, common);
    const recipient = recipientFor(entry.userId, confirmed, request.applicant.email);
    await enqueueEmail(tx, { ...email, recipient, attachments: [attachment] }, messageIdDomain(input.config), input.now);
  }
}

/**
 * The user ID's own address when the applicant confirmed it; otherwise the sign-in address.
 * Either way the recipient is an address we verified, never text taken from the key alone.
 */
function recipientFor(userId: string, confirmed: ReadonlySet<string>, signInAddress: string): string {
  const checked = checkUserId(userIdBytes(userId));
  const address = checked.ok && checked.facts.email ? normaliseAddress(checked.facts.email) : null;
  return address && confirmed.has(address) ? address : signInAddress;
}

/** Whether openpgp.js finds a key it may encrypt to now (a valid, unexpired encryption subkey or primary). */
async function canEncryptTo(key: PublicKey, now: Date, config: OpenPgpConfig): Promise<boolean> {
  try {
    await key.getEncryptionKey(undefined, now, undefined, config);
    return true;
  } catch {
    // No usable encryption key: the public certification goes unencrypted (docs/decisions.md).
    return false;
  }
}

async function encryptedAttachment(armored: string, key: PublicKey, input: CertifiedKeyEmailsInput, config: OpenPgpConfig): Promise<MailAttachment> {
  const message = await createMessage({ binary: new TextEncoder().encode(armored), filename: `${input.fingerprint}-certified.asc`, format: "binary" });
  const sealed = await encrypt({ message, encryptionKeys: key, format: "armored", date: input.now, config });
  return { filename: `${input.fingerprint}-certified.asc.gpg`, contentType: "application/octet-stream", content: new TextEncoder().encode(sealed) };
}

function plainAttachment(armored: string, fingerprint: string): MailAttachment {
  return { filename: `${fingerprint}-certified.asc`, contentType: "application/pgp-keys", content: new TextEncoder().encode(armored) };
}

/** Per call, never the library's global: our key checks, and armor without version or comment lines. */
function openPgpConfig(config: Config): OpenPgpConfig {
  return inspectionConfig({ minRsaBits: config.MIN_RSA_BITS });
}

export interface CertifiedKeyFile {
  filename: string;
  armored: string;
}

/**
 * The full certified key of a certified or revoked request: every certification, and the
 * revocations that were published. A sealed revocation stays out until it is applied.
 */
export async function loadCertifiedKey(db: Db, requestId: string): Promise<CertifiedKeyFile> {
  const request = await db.request.findUnique({
    where: { id: requestId },
    select: {
      state: true,
      keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true, canonicalKey: true } },
      certifications: { orderBy: { userId: "asc" }, select: { userId: true, signature: true, revocation: true } },
    },
  });
  const key = request?.keys[0];
  if (!request || !key || !isRequestState(request.state) || !["certified", "revoked"].includes(request.state) || request.certifications.length === 0) {
    throw new NotFoundError("This request has no certified key (yet). It is available once the request is certified.");
  }
  const entries = request.certifications.map((c) => ({ userId: c.userId, certification: c.signature, revocation: c.revocation }));
  const bytes = assembleCertifiedKey(key.canonicalKey, entries);
  return { filename: `${key.fingerprint}.asc`, armored: armorPublicKey(bytes) };
}
