/**
 * Renewal: the owner of a certified key asks, in one action, for a new certification of the
 * same key and user IDs under the agreement on file. It is a new request linked to the old one
 * (`renewsRequestId`), so review, the signing queue and "the newest request's certification is
 * in force" work unchanged; at import the old certifications are marked superseded.
 */
import { approvalsRequiredOf } from "../core/settings.ts";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { checkAgreementPdf, displayFileName, sha256Hex } from "../core/agreement-pdf.ts";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey, verifyPossession, type KeyFacts, type KeyPolicyOptions, type PolicyProblem } from "../core/key-policy.ts";
import { keyEndedIntakeMessage, keyEndingRevocation } from "../core/key-history.ts";
import { renewalRefusal, renewedUserIds, type RenewalRefusal } from "../core/renewal.ts";
import type { Db, Tx } from "../db/client.ts";
import { ConflictError, FormError, type FormProblem } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { listKeyUpdates, updatedKeys } from "../repositories/key-updates.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { findRenewalOf, findRenewalSource, findReplacementOf, findRequestLinks, listKeyCertifications, supersedeCertifications, type KeyCertificationRecord, type RenewalSource } from "../repositories/renewals.ts";
import { findOpenRequestForKey } from "../repositories/requests.ts";
import { findKeyRevocationHistory, type PastRevocation } from "../repositories/revocations.ts";
import { readSettings } from "../repositories/settings.ts";
import { messageIdDomain, type ServiceContext } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";
import { applyTransition } from "./request-transitions.ts";
import { armorSignature, MAX_SIGNATURE_BYTES } from "./requests.ts";

/** The renewal as the confirmation page describes it. */
export interface RenewalPreview {
  source: RenewalSource;
  refusal: RenewalRefusal | null;
  userIds: string[];
  validityDays: number;
  approvalsRequired: number;
  /** The agreement version on file, and the current one: a newer one must be signed first. */
  agreementVersion: { signed: number; current: number };
}

export interface RenewInput {
  requestId: string;
  applicantId: string;
  ip: string;
  /** The current agreement, executed, when the one on file was signed under an older version. */
  agreement?: { bytes: Uint8Array; fileName: string | undefined } | null;
  signature?: Uint8Array;
}

/** The agreement the renewal carries: the copy on file, or the newly signed current version. */
interface RenewalAgreement {
  bytes: Uint8Array;
  fileName: string;
  sha256: string;
  signature: string;
  signerFingerprint: string;
  agreementVersion: number;
}

/** The key as it stands now (the owner's updates included), checked and cut down to the user IDs to renew. */
interface RenewedKey {
  canonical: { fingerprint: string; binary: Uint8Array; sha256: string };
  facts: KeyFacts;
  warnings: PolicyProblem[];
  userIds: string[];
}

export class RenewalService {
  constructor(private readonly ctx: ServiceContext) {}

  private policy(): KeyPolicyOptions {
    return { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now: this.ctx.now() };
  }

  /** What a renewal of `requestId` would certify, or why it cannot be made. */
  async preview(requestId: string, applicantId: string): Promise<RenewalPreview> {
    const source = await findRenewalSource(this.ctx.db, requestId, applicantId);
    const settings = await readSettings(this.ctx.db);
    const refusal = (await this.refusal(this.ctx.db, source)) ?? (await this.keyRefusal(source));
    return {
      source,
      refusal,
      userIds: renewedUserIds(source.certifiedUserIds, source.key.certifyUserIds),
      validityDays: settings.certificationValidityDays,
      approvalsRequired: settings.renewalApprovalsRequired,
      agreementVersion: { signed: source.agreement.agreementVersion, current: settings.agreementVersion },
    };
  }

  /** Said on the confirmation page before the click: the key as it stands no longer passes today's policy. */
  private async keyRefusal(source: RenewalSource): Promise<RenewalRefusal | null> {
    try {
      await this.renewedKey(source);
      return null;
    } catch (error) {
      if (error instanceof ConflictError) return { code: error.code, message: error.message };
      throw error;
    }
  }

  /** Why the request cannot be renewed now (state, expiry, another request for the key), or null. */
  private async refusal(db: Db | Tx, source: RenewalSource): Promise<RenewalRefusal | null> {
    const [renewal, open] = await Promise.all([findRenewalOf(db, source.id), findOpenRequestForKey(db, source.key.fingerprint, null)]);
    return renewalRefusal(
      { state: source.state, certificationExpiresAt: source.certificationExpiresAt, hasLiveCertification: source.hasLiveCertification, renewal, openRequest: open ? { id: open.id, own: open.applicantId === source.applicantId } : null },
      this.ctx.now(),
    );
  }

  /**
   * Makes the renewal request: the key as it stands now, the same user IDs, the agreement on
   * file (copied, so each request owns its file). Returns the new request's id; a second click
   * while the first renewal is open leads to that one.
   */
  async renew(input: RenewInput): Promise<{ requestId: string; replayed: boolean }> {
    const source = await findRenewalSource(this.ctx.db, input.requestId, input.applicantId);
    const existing = await findRenewalOf(this.ctx.db, source.id);
    if (existing && existing.state !== "certified") return { requestId: existing.id, replayed: true };
    throwRefusal(await this.refusal(this.ctx.db, source));
    const key = await this.renewedKey(source);
    const agreement = await this.renewalAgreement(source, key, input);
    const storageName = await this.ctx.files.saveAgreement(agreement.bytes);
    const requestId = randomUUID();
    try {
      await this.ctx.db.$transaction(async (tx) => {
        // Checked again where it counts: a second click or another request may have come in meanwhile.
        throwRefusal(await this.refusal(tx, source));
        await createRenewal(tx, { requestId, source, key, agreement, storageName, now: this.ctx.now(), applicantId: input.applicantId, ip: input.ip });
        await this.queueReceipt(tx, input.applicantId, requestId, key, this.ctx.now());
      });
    } catch (error) {
      await this.ctx.files.removeAgreement(storageName);
      throw error;
    }
    this.ctx.mailQueued();
    return { requestId, replayed: false };
  }

  /**
   * The agreement on file while its version is current; otherwise the owner signs the current
   * version first, checked as the request form checks it (a PDF, a detached signature by the key).
   */
  private async renewalAgreement(source: RenewalSource, key: RenewedKey, input: RenewInput): Promise<RenewalAgreement> {
    const { agreementVersion } = await readSettings(this.ctx.db);
    const onFile = source.agreement;
    if (onFile.agreementVersion >= agreementVersion) {
      const bytes = await readFile(this.ctx.files.agreementPath(onFile.storageName));
      return { bytes, fileName: onFile.fileName, sha256: onFile.sha256, signature: onFile.signature, signerFingerprint: onFile.signerFingerprint, agreementVersion: onFile.agreementVersion };
    }
    const signed = await checkSignedAgreement(key.canonical.binary, input.agreement ?? null, input.signature ?? new Uint8Array(), { ...this.policy(), agreementVersion: onFile.agreementVersion, current: agreementVersion });
    return { ...signed, agreementVersion };
  }

  /** The key on file, with the owner's later updates (an extended expiry counts), checked against today's policy. */
  private async renewedKey(source: RenewalSource): Promise<RenewedKey> {
    const fingerprint = source.key.fingerprint;
    const ended = keyEndingRevocation(await findKeyRevocationHistory(this.ctx.db, fingerprint));
    if (ended) throw new ConflictError(keyEndedIntakeMessage(ended), "KEYSIGN_ERR_KEY_REVOKED");
    const copy = (await updatedKeys(this.ctx.db, fingerprint)).get(fingerprint)?.at(-1) ?? source.key.canonicalKey;
    const result = await inspectOk(copy, this.policy());
    const userIds = renewedUserIds(source.certifiedUserIds, result.facts.userIds.map((uid) => uid.userId));
    if (userIds.length === 0) {
      throw new ConflictError("None of the certified user IDs is still valid on the key, so there is nothing to renew. Make a new request.", "KEYSIGN_ERR_RENEW_NO_USER_ID");
    }
    const canonical = await canonicalizeKey(result.minimal, userIds, this.policy());
    return { canonical, facts: result.facts, warnings: result.warnings, userIds };
  }

  private async queueReceipt(tx: Tx, applicantId: string, requestId: string, key: RenewedKey, now: Date): Promise<void> {
    const applicant = await tx.applicant.findUniqueOrThrow({ where: { id: applicantId }, select: { email: true } });
    const email = renderEmail("request-received", { fingerprint: key.canonical.fingerprint, userIds: key.userIds, link: `${this.ctx.config.PUBLIC_URL}/requests/${requestId}` }, await emailCommon(tx, this.ctx.config));
    await enqueueEmail(tx, { ...email, recipient: applicant.email }, messageIdDomain(this.ctx.config), now);
  }

  /** Why the request cannot be renewed, from its state alone (no key check). */
  async stateRefusal(requestId: string, applicantId: string): Promise<RenewalRefusal | null> {
    return this.refusal(this.ctx.db, await findRenewalSource(this.ctx.db, requestId, applicantId));
  }

  /** The renewal panel of the owner's request page. */
  panelFor(requestId: string, applicantId: string, state: string): Promise<RenewalPanel> {
    return renewalPanel(this, this.ctx.db, { requestId, applicantId, state });
  }

  /** The reviewers' key history of a renewal or replacement; null for any other request. */
  staffPanelFor(requestId: string): Promise<KeyHistoryPanel | null> {
    return keyHistoryPanel(this.ctx, requestId);
  }

}

/** Approvals `requestId` needs, inside the approval's transaction. */
export async function approvalsRequiredFor(db: Db | Tx, requestId: string): Promise<number> {
  const [links, settings] = await Promise.all([findRequestLinks(db, requestId), readSettings(db)]);
  return approvalsRequiredOf(settings, links.renewsRequestId !== null);
}

/**
 * At import, after a renewal's certifications were stored: the renewed request's certifications
 * of the same user IDs are superseded (kept and published, not revoked). Audited on the old request.
 */
export async function completeRenewal(tx: Tx, input: { requestId: string; userIds: readonly string[]; batch: number; now: Date }): Promise<void> {
  const { renewsRequestId } = await findRequestLinks(tx, input.requestId);
  if (!renewsRequestId) return;
  const superseded = await supersedeCertifications(tx, renewsRequestId, input.userIds, input.now);
  await appendAuditEvent(
    tx,
    { actorType: "system", actorId: null, ip: null, action: "request.renewed", requestId: renewsRequestId, data: { renewal: input.requestId, batch: input.batch, superseded } },
    input.now,
  );
}

async function inspectOk(copy: Uint8Array, policy: KeyPolicyOptions) {
  const result = await inspectKey(copy, policy);
  if (result.ok) return result;
  const reasons = result.problems.map((problem) => problem.message).join(" ");
  throw new ConflictError(
    `The key on file no longer passes the portal's checks: ${reasons} Extend or fix the key, send it to the portal ("Update your published key" on this page), then renew.`,
    "KEYSIGN_ERR_RENEW_KEY",
  );
}

function throwRefusal(refusal: RenewalRefusal | null): void {
  if (refusal) throw new ConflictError(refusal.message, refusal.code);
}

interface NewRenewal {
  requestId: string;
  source: RenewalSource;
  key: RenewedKey;
  agreement: RenewalAgreement;
  storageName: string;
  applicantId: string;
  ip: string;
  now: Date;
}

async function createRenewal(tx: Tx, { requestId, source, key, agreement, storageName, applicantId, ip, now }: NewRenewal): Promise<void> {
  const published = source.publishedUserIds.filter((userId) => key.userIds.includes(userId));
  await tx.request.create({
    data: { id: requestId, applicantId, state: "submitted", ...source.declarations, publishedUserIds: JSON.stringify(published), renewsRequestId: source.id, createdAt: now, updatedAt: now },
  });
  await tx.requestKey.create({
    data: {
      id: randomUUID(),
      requestId,
      revision: 1,
      fingerprint: key.canonical.fingerprint,
      canonicalKey: Buffer.from(key.canonical.binary),
      canonicalSha256: key.canonical.sha256,
      algorithm: key.facts.algorithm,
      keyCreatedAt: key.facts.createdAt,
      keyExpiresAt: key.facts.expiresAt,
      facts: JSON.stringify({ facts: key.facts, warnings: key.warnings }),
      certifyUserIds: JSON.stringify(key.userIds),
      createdAt: now,
    },
  });
  const { fileName, sha256, signature, signerFingerprint, agreementVersion } = agreement;
  await tx.agreement.create({ data: { id: randomUUID(), requestId, revision: 1, fileName, sha256, size: agreement.bytes.length, storageName, signature, signerFingerprint, agreementVersion, createdAt: now } });
  const data = { renews: source.id, fingerprint: key.canonical.fingerprint, userIds: key.userIds, agreementSha256: sha256 };
  await appendAuditEvent(tx, { actorType: "applicant", actorId: applicantId, ip, action: "request.submit", requestId, fromState: null, toState: "submitted", data }, now);
  await appendAuditEvent(tx, { actorType: "applicant", actorId: applicantId, ip, action: "request.renewal_requested", requestId: source.id, data: { renewal: requestId } }, now);
}

/** What the owner's request page says about renewal: what this request renews, what renewed it, and whether it can be renewed now. */
export interface RenewalPanel {
  renewsRequestId: string | null;
  renewal: { id: string; state: string } | null;
  canRenew: boolean;
  /** A certified key can be replaced by a new one (a new request linked to this one). */
  canReplace: boolean;
  /** The request replacing this key, if any, and the owner's choice for this certification. */
  replacement: { id: string; choice: string | null } | null;
}

export async function renewalPanel(service: RenewalService, db: Db, input: { requestId: string; applicantId: string; state: string }): Promise<RenewalPanel> {
  const [links, renewal, replacement] = await Promise.all([findRequestLinks(db, input.requestId), findRenewalOf(db, input.requestId), findReplacementOf(db, input.requestId)]);
  // The state checks only: a key the policy refuses still shows the action, whose page says why and what to do.
  const canRenew = input.state === "certified" && renewal === null && (await service.stateRefusal(input.requestId, input.applicantId)) === null;
  // Once renewed, the key is replaced from its renewal, which carries the certification on.
  return { renewsRequestId: links.renewsRequestId, renewal, canRenew, canReplace: input.state === "certified" && renewal === null, replacement };
}

/** What reviewers of a renewal or replacement read about the key: earlier certifications, revocations, owner updates, today's policy. */
export interface KeyHistoryPanel {
  renewsRequestId: string | null;
  replacesRequestId: string | null;
  certifications: KeyCertificationRecord[];
  revocations: PastRevocation[];
  ownerUpdates: Date[];
  /** What today's key policy says of the key on this request (refusals and warnings). */
  policyNow: { problems: string[]; warnings: string[] };
  agreementVersion: { signed: number; current: number } | null;
  approvalsRequired: number;
  /** On a replacement: the replaced key beside this request's key. */
  keys: { old: KeyCard; new: KeyCard } | null;
}

export interface KeyCard {
  fingerprint: string;
  algorithm: string;
  createdAt: Date;
  expiresAt: Date | null;
  userIds: string[];
}

async function keyCard(db: Db, requestId: string): Promise<KeyCard | null> {
  const key = await db.requestKey.findFirst({ where: { requestId }, orderBy: { revision: "desc" }, select: { fingerprint: true, algorithm: true, keyCreatedAt: true, keyExpiresAt: true, certifyUserIds: true } });
  return key ? { fingerprint: key.fingerprint, algorithm: key.algorithm, createdAt: key.keyCreatedAt, expiresAt: key.keyExpiresAt, userIds: JSON.parse(key.certifyUserIds) as string[] } : null;
}

async function replacedKeys(db: Db, requestId: string, replacesRequestId: string | null): Promise<{ old: KeyCard; new: KeyCard } | null> {
  if (!replacesRequestId) return null;
  const [old, current] = await Promise.all([keyCard(db, replacesRequestId), keyCard(db, requestId)]);
  return old && current ? { old, new: current } : null;
}

export async function keyHistoryPanel(ctx: ServiceContext, requestId: string): Promise<KeyHistoryPanel | null> {
  const links = await findRequestLinks(ctx.db, requestId);
  if (!links.renewsRequestId && !links.replacesRequestId) return null;
  const [key, agreement, settings] = await Promise.all([
    ctx.db.requestKey.findFirstOrThrow({ where: { requestId }, orderBy: { revision: "desc" }, select: { fingerprint: true, canonicalKey: true } }),
    ctx.db.agreement.findFirst({ where: { requestId }, orderBy: { revision: "desc" }, select: { agreementVersion: true } }),
    readSettings(ctx.db),
  ]);
  const [certifications, revocations, updates, inspected] = await Promise.all([
    listKeyCertifications(ctx.db, key.fingerprint),
    findKeyRevocationHistory(ctx.db, key.fingerprint),
    listKeyUpdates(ctx.db, key.fingerprint),
    inspectKey(key.canonicalKey, { ...DEFAULT_KEY_POLICY, minRsaBits: ctx.config.MIN_RSA_BITS, now: ctx.now() }),
  ]);
  return {
    ...links,
    certifications: certifications.filter((c) => c.requestId !== requestId),
    revocations,
    ownerUpdates: updates.map((update) => update.createdAt),
    policyNow: inspected.ok ? { problems: [], warnings: inspected.warnings.map((w) => w.message) } : { problems: inspected.problems.map((p) => p.message), warnings: [] },
    agreementVersion: agreement ? { signed: agreement.agreementVersion, current: settings.agreementVersion } : null,
    approvalsRequired: approvalsRequiredOf(settings, links.renewsRequestId !== null),
    keys: await replacedKeys(ctx.db, requestId, links.replacesRequestId),
  };
}

/**
 * The executed current agreement and its detached signature by `keyBinary`: the request form's
 * checks (src/services/requests.ts), with problems on the same fields. Nothing is stored here.
 */
async function checkSignedAgreement(
  keyBinary: Uint8Array,
  agreement: { bytes: Uint8Array; fileName: string | undefined } | null,
  signature: Uint8Array,
  options: KeyPolicyOptions & { agreementVersion: number; current: number },
): Promise<Omit<RenewalAgreement, "agreementVersion">> {
  const problems: FormProblem[] = [];
  const pdfProblem = checkAgreementPdf(agreement?.bytes ?? new Uint8Array());
  if (pdfProblem) {
    const outdated = `The agreement's text changed since you signed it (version ${options.agreementVersion}; now version ${options.current}). `;
    problems.push({ field: "agreement", code: pdfProblem.code, message: agreement ? pdfProblem.message : `${outdated}${pdfProblem.message}` });
  }
  if (signature.length === 0) problems.push({ field: "signature", code: "KEYSIGN_ERR_SIGNATURE_MISSING", message: "Attach the detached signature of the agreement (agreement.pdf.asc), made with the certified key." });
  else if (signature.length > MAX_SIGNATURE_BYTES) problems.push({ field: "signature", code: "KEYSIGN_ERR_SIGNATURE_TOO_LARGE", message: "The signature file is far larger than a detached signature. Attach the .asc file that gpg --armor --detach-sign wrote." });
  if (problems.length > 0 || !agreement) throw new FormError(problems);
  const verified = await verifyPossession(keyBinary, agreement.bytes, signature, options);
  if (!verified.ok) throw new FormError([{ field: "signature", ...verified.problem }]);
  return { bytes: agreement.bytes, fileName: displayFileName(agreement.fileName), sha256: sha256Hex(agreement.bytes), signature: await armorSignature(signature), signerFingerprint: verified.signerFingerprint };
}

/**
 * When a renewed key's certification is revoked, the certifications it superseded must not stay
 * valid until they expire: each request it renews (and so on back) has its superseded
 * certifications revoked with their sealed revocations, in the same transaction, and a request
 * left with no live certification becomes revoked. One without a sealed revocation is named in
 * the audit event, for staff to revoke through a batch.
 */
export async function revokeSupersededAncestors(tx: Tx, input: { requestId: string; reasonCode: string; now: Date }): Promise<void> {
  const seen = new Set<string>([input.requestId]);
  let next = (await findRequestLinks(tx, input.requestId)).renewsRequestId;
  while (next && !seen.has(next)) {
    seen.add(next);
    const ancestor = next;
    const live = await tx.certification.findMany({ where: { requestId: ancestor, revokedAt: null }, select: { id: true, userId: true, sealedRevocation: true } });
    const sealed = live.filter((c) => c.sealedRevocation !== null);
    for (const certification of sealed) {
      await tx.certification.update({ where: { id: certification.id }, data: { revocation: certification.sealedRevocation, revokedAt: input.now } });
    }
    const unsealed = live.filter((c) => c.sealedRevocation === null).map((c) => c.userId);
    const state = (await tx.request.findUniqueOrThrow({ where: { id: ancestor }, select: { state: true } })).state;
    const data = { reasonCode: input.reasonCode, revokedWith: input.requestId, userIds: sealed.map((c) => c.userId), withoutSealedRevocation: unsealed };
    if (unsealed.length === 0 && state === "certified") {
      await applyTransition(tx, { requestId: ancestor, event: "revoke", actor: { type: "system", id: null, ip: null }, now: input.now, data });
    } else if (live.length > 0) {
      await appendAuditEvent(tx, { actorType: "system", actorId: null, ip: null, action: "request.superseded_revoked", requestId: ancestor, data }, input.now);
    }
    next = (await findRequestLinks(tx, ancestor)).renewsRequestId;
  }
}
