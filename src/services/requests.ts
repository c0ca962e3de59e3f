import { readFile } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import * as openpgp from "openpgp";
import { checkAgreementPdf, displayFileName, sha256Hex } from "../core/agreement-pdf.ts";
import { armorPublicKey, canonicalizeKey, DEFAULT_KEY_POLICY, formProblem, inspectKey, type KeyFacts, type KeyPolicyOptions, type PolicyProblem, verifyPossession } from "../core/key-policy.ts";
import { KEY_ENDED_CODE, keyEndedIntakeMessage, keyEndingRevocation } from "../core/key-history.ts";
import { checkTransition, STATE_LABELS } from "../core/request-lifecycle.ts";
import { checkDeclarations, SUBMISSION_CODES, submissionMessages, type DeclarationInput, type Declarations } from "../core/submission.ts";
import { hashToken, isWellFormedToken, newToken } from "../core/tokens.ts";
import type { Db, Tx } from "../db/client.ts";
import { FormAlreadySentError, FormError, HeldFilesFormError, NotFoundError, type FormProblem, type KeptFiles } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import {
  countCurrentApprovals,
  consumeFormToken,
  countOpenRequestsOf,
  findFormToken,
  findOpenRequestForKey,
  findOwnedRequest,
  issueFormToken,
  loadRequestDetail,
  type RequestDetail,
} from "../repositories/requests.ts";
import { readSettings } from "../repositories/settings.ts";
import { findApplicantEmail, loadRevisionDefaults } from "../repositories/request-form.ts";
import { findKeyRevocationHistory } from "../repositories/revocations.ts";
import { messageIdDomain, type Actor, type ServiceContext } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";
import { notifyApplicantOfRequest } from "./applicant-notices.ts";
import { applyTransition } from "./request-transitions.ts";
import { HeldUploads, type HeldFile, type TakenFiles } from "./held-uploads.ts";
import { approvalsRequiredFor } from "./renewals.ts";
import { renewalRevisionProblem } from "../core/renewal.ts";
import { findRenewedKey } from "../repositories/renewals.ts";
import { linkReplacement } from "./replacements.ts";

export const MAX_SIGNATURE_BYTES = 64 * 1024;
/** How long a new-request form may stay open before it is sent. */
export const FORM_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

const CONFLICT_CODES: ReadonlySet<string> = new Set([SUBMISSION_CODES.keyOpenHere, SUBMISSION_CODES.keyOpenElsewhere, SUBMISSION_CODES.tooManyOpen]);

export interface UserIdChoice {
  userId: string;
  email: string | null;
  confirmed: boolean;
}

/** A key that passed the intake policy, ready for the second step of the form. */
export interface CheckedKey {
  facts: KeyFacts;
  warnings: PolicyProblem[];
  /** The minimal canonical copy, armored, carried by the form's second step and checked again on submit. */
  armored: string;
  choices: UserIdChoice[];
}

export interface SubmissionInput {
  applicantId: string;
  ip: string;
  key: Uint8Array;
  certifyUserIds: string[];
  /** The certified user IDs whose names and addresses the applicant agreed to publish. */
  publishUserIds: string[];
  /** Null when none was chosen: the held one, or on a revision the current one, is used. */
  agreement: { bytes: Uint8Array; fileName: string | undefined } | null;
  /** Empty when none was chosen: the held one is used. */
  signature: Uint8Array;
  signatureFileName: string | undefined;
  declarations: DeclarationInput;
  /** The handle of the files kept from this form's earlier try ("" for none). */
  heldHandle: string;
}

/** The purpose a form's held files are bound to: a new request, or the revision of one request. */
function heldPurpose(requestId: string | null): string {
  return requestId ?? "new";
}

/** Where a revision's form starts (`revisionStart`); `checked` is null when the current key no longer passes. */
export interface RevisionStart {
  detail: RequestDetail;
  values: DeclarationInput & { certifyUserIds: string[]; publishUserIds: string[] };
  reason: string | null;
  agreement: { id: string; fileName: string; size: number } | null;
  checked: CheckedKey | null;
  keyProblems: FormProblem[];
}

interface ValidSubmission {
  checked: CheckedKey;
  certifyUserIds: string[];
  publishUserIds: string[];
  declarations: Declarations;
  agreement: { bytes: Uint8Array; fileName: string; sha256: string };
  signerFingerprint: string;
  signature: string;
}

export class RequestService {
  readonly held: HeldUploads;

  constructor(private readonly ctx: ServiceContext) {
    this.held = new HeldUploads(ctx);
  }

  private policy(): KeyPolicyOptions {
    return { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now: this.ctx.now() };
  }

  /**
   * Step one of the form: the key alone, so the applicant can pick its user IDs. `requestId`
   * is the request being revised, or null for a new one, which must fit under the applicant's
   * cap of open requests.
   */
  async checkKey(applicantId: string, upload: Uint8Array, requestId: string | null = null): Promise<CheckedKey> {
    if (requestId === null) throwIfAny(await this.openRequestCapProblems(this.ctx.db, applicantId));
    const result = await inspectKey(upload, this.policy());
    if (!result.ok) throw new FormError(result.problems.map(asKeyProblem), statusFor(result.problems));
    await this.refuseEndedKey(result.facts.fingerprint);
    throwIfAny(await this.openKeyProblems(this.ctx.db, result.facts.fingerprint, applicantId, requestId));
    const confirmed = await this.confirmedAddresses(applicantId);
    return {
      facts: result.facts,
      warnings: result.warnings,
      armored: armorPublicKey(result.minimal),
      choices: result.facts.userIds.map((uid) => ({
        userId: uid.userId,
        email: uid.email,
        confirmed: uid.email !== null && confirmed.has(uid.email),
      })),
    };
  }

  /** The applicant's open requests are at the cap (a setting). */
  private async openRequestCapProblems(db: Db | Tx, applicantId: string): Promise<FormProblem[]> {
    const open = await countOpenRequestsOf(db, applicantId);
    const settings = await readSettings(db);
    if (open < settings.openRequestsPerApplicant) return [];
    return [{ field: "form", code: SUBMISSION_CODES.tooManyOpen, message: submissionMessages.tooManyOpen(settings.openRequestsPerApplicant) }];
  }

  /** Another open request holds this key: the applicant's own is named; someone else's only said to exist. */
  private async openKeyProblems(db: Db | Tx, fingerprint: string, applicantId: string, requestId: string | null): Promise<FormProblem[]> {
    const open = await findOpenRequestForKey(db, fingerprint, requestId);
    if (!open) return [];
    if (open.applicantId !== applicantId) return [{ field: "key", code: SUBMISSION_CODES.keyOpenElsewhere, message: submissionMessages.keyOpenElsewhere() }];
    return [{ field: "key", code: SUBMISSION_CODES.keyOpenHere, message: submissionMessages.keyOpenHere(`/requests/${open.id}`, STATE_LABELS[open.state]) }];
  }

  /**
   * A key revoked as compromised or for a malicious module is never certified again. Checked
   * at every step that takes a key (both form steps, new and revised requests) and again at
   * approval, for a revocation applied while the request waits.
   */
  private async refuseEndedKey(fingerprint: string): Promise<void> {
    const ended = keyEndingRevocation(await findKeyRevocationHistory(this.ctx.db, fingerprint));
    if (ended) throw new FormError([{ field: "key", code: KEY_ENDED_CODE, message: keyEndedIntakeMessage(ended) }]);
  }

  /**
   * A new request from the form holding `formToken`. The token is consumed in the transaction
   * that creates the request; the same form sent again (a double click, or Back and send) gets
   * the request it created, and nothing is written twice.
   */
  async submit(input: SubmissionInput, formToken: string): Promise<{ requestId: string; replayed: boolean }> {
    const tokenHash = isWellFormedToken(formToken) ? hashToken(formToken) : null;
    const earlier = await this.requestCreatedWith(tokenHash, input.applicantId);
    if (earlier) return { requestId: earlier, replayed: true };
    const taken = await this.held.take(input.applicantId, heldPurpose(null), input.heldHandle);
    const valid = await this.validate(input, taken, null, null, await this.formTokenProblems(tokenHash, input.applicantId));
    const requestId = randomUUID();
    try {
      await this.create(requestId, valid, input, tokenHash ?? "");
    } catch (error) {
      if (!(error instanceof FormAlreadySentError)) throw error;
      // Sent twice at once: the other copy won, and made the request.
      const created = await this.requestCreatedWith(tokenHash, input.applicantId);
      if (!created) throw error;
      return { requestId: created, replayed: true };
    }
    await this.held.discard(taken.id);
    return { requestId, replayed: false };
  }

  /** A token for a new-request form: `given` while it is unused and the applicant's, a fresh one otherwise. */
  async formToken(applicantId: string, given = ""): Promise<string> {
    const now = this.ctx.now();
    if (isWellFormedToken(given)) {
      const row = await findFormToken(this.ctx.db, hashToken(given));
      if (row && row.applicantId === applicantId && !row.usedAt && row.expiresAt > now) return given;
    }
    const token = newToken();
    await issueFormToken(this.ctx.db, { tokenHash: hashToken(token), applicantId, createdAt: now, expiresAt: new Date(now.getTime() + FORM_TOKEN_TTL_MS) });
    return token;
  }

  private async requestCreatedWith(tokenHash: string | null, applicantId: string): Promise<string | null> {
    const row = tokenHash ? await findFormToken(this.ctx.db, tokenHash) : null;
    return row && row.applicantId === applicantId && row.requestId ? row.requestId : null;
  }

  private async formTokenProblems(tokenHash: string | null, applicantId: string): Promise<FormProblem[]> {
    const row = tokenHash ? await findFormToken(this.ctx.db, tokenHash) : null;
    if (row && row.applicantId === applicantId && !row.usedAt && row.expiresAt > this.ctx.now()) return [];
    return [{ field: "form", code: SUBMISSION_CODES.formToken, message: submissionMessages.formToken() }];
  }

  private async create(requestId: string, valid: ValidSubmission, input: SubmissionInput, tokenHash: string): Promise<void> {
    const actor: Actor = { type: "applicant", id: input.applicantId, ip: input.ip };
    await this.persist(valid, async (tx, now, storageName) => {
      if (!(await consumeFormToken(tx, tokenHash, input.applicantId, requestId, now))) throw new FormAlreadySentError();
      // Checked again where it counts: another request may have been made since the form was checked.
      const open = [
        ...(await this.openRequestCapProblems(tx, input.applicantId)),
        ...(await this.openKeyProblems(tx, valid.checked.facts.fingerprint, input.applicantId, null)),
      ];
      throwIfAny(open);
      await tx.request.create({
        data: {
          id: requestId,
          applicantId: input.applicantId,
          state: "submitted",
          licence: valid.declarations.licence,
          projectUrls: JSON.stringify(valid.declarations.projectUrls),
          attestOpenSource: valid.declarations.attestOpenSource,
          attestNotCommercial: valid.declarations.attestNotCommercial,
          attestAgreement: valid.declarations.attestAgreement,
          publishedUserIds: JSON.stringify(valid.publishUserIds),
          createdAt: now,
          updatedAt: now,
        },
      });
      await this.storeRevision(tx, requestId, 1, valid, storageName, now);
      await linkReplacement(tx, { tokenHash, requestId, fingerprint: valid.checked.facts.fingerprint });
      await appendSubmitEvent(tx, requestId, actor, valid, now);
      await this.queueReceipt(tx, input.applicantId, requestId, valid, now);
    });
  }

  /** The applicant's answer to "changes requested": a new key and/or agreement, always with a fresh signature. */
  async resubmit(requestId: string, version: number, input: SubmissionInput): Promise<void> {
    const current = await findOwnedRequest(this.ctx.db, requestId, input.applicantId);
    const kept = current.latestAgreement
      ? { bytes: await readFile(this.ctx.files.agreementPath(current.latestAgreement.storageName)), fileName: current.latestAgreement.fileName }
      : null;
    const taken = await this.held.take(input.applicantId, heldPurpose(requestId), input.heldHandle);
    const valid = await this.validate(input, taken, kept, requestId);
    await this.refuseRenewalChange(requestId, valid);
    const actor: Actor = { type: "applicant", id: input.applicantId, ip: input.ip };
    await this.persist(valid, async (tx, now, storageName) => {
      await applyTransition(tx, { requestId, event: "resubmit", actor, expectedVersion: version, now, data: revisionData(valid) });
      throwIfAny(await this.openKeyProblems(tx, valid.checked.facts.fingerprint, input.applicantId, requestId));
      await tx.request.update({
        where: { id: requestId },
        data: {
          licence: valid.declarations.licence,
          projectUrls: JSON.stringify(valid.declarations.projectUrls),
          attestOpenSource: valid.declarations.attestOpenSource,
          attestNotCommercial: valid.declarations.attestNotCommercial,
          attestAgreement: valid.declarations.attestAgreement,
          publishedUserIds: JSON.stringify(valid.publishUserIds),
        },
      });
      await this.storeRevision(tx, requestId, current.revision + 1, valid, storageName, now);
      await notifyApplicantOfRequest(tx, this.ctx.config, { requestId, template: "revision-received", now });
    });
    await this.held.discard(taken.id);
  }

  private async refuseRenewalChange(requestId: string, valid: ValidSubmission): Promise<void> {
    const renewed = await findRenewedKey(this.ctx.db, requestId);
    const problem = renewed && renewalRevisionProblem(renewed, { fingerprint: valid.checked.facts.fingerprint, certifyUserIds: valid.certifyUserIds });
    if (problem) throw new FormError([{ field: "key", code: "KEYSIGN_ERR_RENEWAL_CHANGED", message: problem }], 409);
  }

  /**
   * The applicant's choice of user IDs to publish (directory listing, lookups by email), at any
   * time: it takes effect while the key is published. Only the request's certified user IDs.
   */
  async choosePublishedUserIds(requestId: string, applicantId: string, userIds: string[], ip: string): Promise<void> {
    const detail = await this.detailFor(requestId, applicantId);
    const problems = checkPublishChoice(detail.keys[0]?.certifyUserIds ?? [], userIds);
    throwIfAny(problems);
    const chosen = [...new Set(userIds)];
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      await tx.request.update({ where: { id: requestId }, data: { publishedUserIds: JSON.stringify(chosen) } });
      await appendAuditEvent(tx, { actorType: "applicant", actorId: applicantId, ip, action: "request.publish_choice", requestId, data: { userIds: chosen } }, now);
    });
    this.ctx.publicationChanged();
  }

  async withdraw(requestId: string, applicantId: string, version: number, ip: string): Promise<void> {
    await findOwnedRequest(this.ctx.db, requestId, applicantId);
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      await applyTransition(tx, { requestId, event: "withdraw", actor: { type: "applicant", id: applicantId, ip }, expectedVersion: version, now });
      await notifyApplicantOfRequest(tx, this.ctx.config, { requestId, template: "request-withdrawn", now });
    });
    this.ctx.mailQueued();
  }

  /**
   * The revision form's start: the current key checked again (a key expired or revoked since
   * then makes the caller ask for a new one), the current declarations and choices, and the
   * reviewer's message.
   */
  async revisionStart(requestId: string, applicantId: string): Promise<RevisionStart> {
    const detail = await this.detailFor(requestId, applicantId);
    const defaults = await loadRevisionDefaults(this.ctx.db, requestId, applicantId);
    const values: DeclarationInput & { certifyUserIds: string[]; publishUserIds: string[] } = {
      licence: defaults.licence,
      projectUrls: defaults.projectUrls.join("\n"),
      attestOpenSource: defaults.attestOpenSource,
      attestNotCommercial: defaults.attestNotCommercial,
      attestAgreement: defaults.attestAgreement,
      certifyUserIds: defaults.certifyUserIds,
      publishUserIds: defaults.publishedUserIds.filter((userId) => defaults.certifyUserIds.includes(userId)),
    };
    const asked = detail.timeline.filter((entry) => entry.action === "request.request_changes").at(-1);
    const reason = typeof asked?.data.reason === "string" ? asked.data.reason : null;
    const agreement = detail.agreements[0];
    const current = agreement ? { id: agreement.id, fileName: agreement.fileName, size: agreement.size } : null;
    try {
      return { detail, values, reason, agreement: current, checked: await this.checkKey(applicantId, defaults.canonicalKey, requestId), keyProblems: [] };
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return { detail, values, reason, agreement: current, checked: null, keyProblems: error.problems };
    }
  }

  /** The address the applicant signs in with, for commands the form fills in. */
  async signInAddressOf(applicantId: string): Promise<string> {
    return (await findApplicantEmail(this.ctx.db, applicantId)) ?? "you@example.org";
  }

  /** The request with its review progress, as the applicant's page shows it. */
  async progressFor(requestId: string, applicantId: string): Promise<{ detail: RequestDetail; approvals: number; required: number }> {
    const detail = await this.detailFor(requestId, applicantId);
    const approvals = await countCurrentApprovals(this.ctx.db, requestId, detail.keys[0]?.revision ?? 1);
    return { detail, approvals, required: await approvalsRequiredFor(this.ctx.db, requestId) };
  }

  async detailFor(requestId: string, applicantId: string): Promise<RequestDetail> {
    const detail = await loadRequestDetail(this.ctx.db, requestId);
    if (!detail || detail.applicantId !== applicantId) throw new NotFoundError();
    return detail;
  }

  /**
   * Checks a whole form. On failure the files that were themselves valid (a PDF, a signature that
   * verifies over it with the key) are kept for the next try and named in the error.
   */
  private async validate(
    input: SubmissionInput,
    taken: TakenFiles,
    keptAgreement: { bytes: Uint8Array; fileName: string } | null,
    requestId: string | null,
    formProblems: FormProblem[] = [],
  ): Promise<ValidSubmission> {
    const problems: FormProblem[] = [...formProblems];
    const { declarations, problems: declarationProblems } = checkDeclarations(input.declarations);
    problems.push(...declarationProblems);
    let checked: CheckedKey | null = null;
    try {
      checked = await this.checkKey(input.applicantId, input.key, requestId);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      problems.push(...error.problems);
    }
    if (checked) problems.push(...checkUserIdChoice(checked.choices, input.certifyUserIds));
    problems.push(...checkPublishChoice(input.certifyUserIds, input.publishUserIds));
    const files = await this.checkFiles(checked, input, taken, keptAgreement, problems);
    const agreement = files.agreement ?? keptAgreement;
    if (problems.length > 0 || !checked || !agreement || !files.signature) {
      const kept = await this.held.keep(input.applicantId, heldPurpose(requestId), taken, files.valid);
      throw new HeldFilesFormError(problems, statusFor(problems), kept, taken.notice);
    }
    return {
      checked,
      certifyUserIds: input.certifyUserIds,
      publishUserIds: input.publishUserIds,
      declarations,
      agreement: { bytes: agreement.bytes, fileName: agreement.fileName, sha256: sha256Hex(agreement.bytes) },
      signerFingerprint: files.signature.signerFingerprint,
      signature: files.signature.armored,
    };
  }

  /**
   * The agreement (chosen now, else held, else on a revision the current one) and its signature
   * (chosen now, else held), checked; `valid` holds those chosen now or held that passed.
   */
  private async checkFiles(
    checked: CheckedKey | null,
    input: SubmissionInput,
    taken: TakenFiles,
    keptAgreement: { bytes: Uint8Array; fileName: string } | null,
    problems: FormProblem[],
  ) {
    const uploaded: HeldFile | null = input.agreement ? { bytes: input.agreement.bytes, fileName: displayFileName(input.agreement.fileName), fromHeld: false } : null;
    const chosen = uploaded ?? taken.agreement;
    const agreement = chosen ?? keptAgreement;
    const agreementProblem = checkAgreementPdf(agreement?.bytes ?? new Uint8Array());
    if (agreementProblem) problems.push({ field: "agreement", ...agreementProblem });
    const signatureFile: HeldFile | null = input.signature.length > 0
      ? { bytes: input.signature, fileName: displaySignatureName(input.signatureFileName), fromHeld: false }
      : taken.signature;
    const signature = await this.checkSignature(checked, agreementProblem ? null : agreement, signatureFile?.bytes ?? new Uint8Array(), problems);
    return {
      agreement: agreementProblem ? null : agreement,
      signature,
      valid: { agreement: agreementProblem ? null : chosen, signature: signature ? signatureFile : null },
    };
  }

  /**
   * Keeps the valid files of a form that is not sent yet (step two shown again, e.g. after
   * sending a confirmation link), so the applicant need not choose them again.
   */
  async keepFiles(input: SubmissionInput, requestId: string | null): Promise<{ kept: KeptFiles | null; notice: string | null }> {
    const taken = await this.held.take(input.applicantId, heldPurpose(requestId), input.heldHandle);
    let checked: CheckedKey | null = null;
    try {
      checked = await this.checkKey(input.applicantId, input.key, requestId);
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
    }
    const files = await this.checkFiles(checked, input, taken, null, []);
    return { kept: await this.held.keep(input.applicantId, heldPurpose(requestId), taken, files.valid), notice: taken.notice };
  }

  private async checkSignature(
    checked: CheckedKey | null,
    agreement: { bytes: Uint8Array } | null,
    signature: Uint8Array,
    problems: FormProblem[],
  ): Promise<{ signerFingerprint: string; armored: string } | null> {
    if (signature.length === 0) {
      problems.push({ field: "signature", code: "KEYSIGN_ERR_SIGNATURE_MISSING", message: "Attach the detached signature of the agreement (agreement.pdf.asc), made with the key you submit." });
      return null;
    }
    if (signature.length > MAX_SIGNATURE_BYTES) {
      problems.push({ field: "signature", code: "KEYSIGN_ERR_SIGNATURE_TOO_LARGE", message: "The signature file is far larger than a detached signature. Attach the .asc file that gpg --armor --detach-sign wrote." });
      return null;
    }
    if (!checked || !agreement) return null;
    const key = await openpgp.unarmor(checked.armored);
    const result = await verifyPossession(key.data, agreement.bytes, signature, this.policy());
    if (!result.ok) {
      problems.push({ field: "signature", ...result.problem });
      return null;
    }
    return { signerFingerprint: result.signerFingerprint, armored: await armorSignature(signature) };
  }

  /** Writes the agreement file first, then the rows; a failed transaction removes the file again. */
  private async persist(valid: ValidSubmission, write: (tx: Tx, now: Date, storageName: string) => Promise<void>): Promise<void> {
    const storageName = await this.ctx.files.saveAgreement(valid.agreement.bytes);
    try {
      const now = this.ctx.now();
      await this.ctx.db.$transaction((tx) => write(tx, now, storageName));
    } catch (error) {
      await this.ctx.files.removeAgreement(storageName);
      throw error;
    }
    this.ctx.mailQueued();
  }

  private async storeRevision(tx: Tx, requestId: string, revision: number, valid: ValidSubmission, storageName: string, now: Date): Promise<void> {
    const minimal = await openpgp.unarmor(valid.checked.armored);
    const canonical = await canonicalizeKey(minimal.data, valid.certifyUserIds, this.policy());
    const facts = valid.checked.facts;
    await tx.requestKey.create({
      data: {
        id: randomUUID(),
        requestId,
        revision,
        fingerprint: canonical.fingerprint,
        canonicalKey: Buffer.from(canonical.binary),
        canonicalSha256: canonical.sha256,
        algorithm: facts.algorithm,
        keyCreatedAt: facts.createdAt,
        keyExpiresAt: facts.expiresAt,
        facts: JSON.stringify({ facts, warnings: valid.checked.warnings }),
        certifyUserIds: JSON.stringify(canonical.userIds),
        createdAt: now,
      },
    });
    await tx.agreement.create({
      data: {
        id: randomUUID(),
        requestId,
        revision,
        fileName: valid.agreement.fileName,
        sha256: valid.agreement.sha256,
        size: valid.agreement.bytes.length,
        storageName,
        signature: valid.signature,
        signerFingerprint: valid.signerFingerprint,
        agreementVersion: await signedAgreementVersion(tx, requestId, valid.agreement.sha256),
        createdAt: now,
      },
    });
  }

  private async queueReceipt(tx: Tx, applicantId: string, requestId: string, valid: ValidSubmission, now: Date): Promise<void> {
    const applicant = await tx.applicant.findUniqueOrThrow({ where: { id: applicantId }, select: { email: true } });
    const email = renderEmail("request-received", {
      fingerprint: valid.checked.facts.fingerprint,
      userIds: valid.certifyUserIds,
      link: `${this.ctx.config.PUBLIC_URL}/requests/${requestId}`,
    }, await emailCommon(tx, this.ctx.config));
    await enqueueEmail(tx, { ...email, recipient: applicant.email }, messageIdDomain(this.ctx.config), now);
  }

  private async confirmedAddresses(applicantId: string): Promise<Set<string>> {
    const rows = await this.ctx.db.emailAddress.findMany({ where: { applicantId, confirmedAt: { not: null } }, select: { address: true } });
    return new Set(rows.map((row) => row.address));
  }
}

/** A signature file's name as shown back to the applicant; pasted text has none. */
function displaySignatureName(name: string | undefined): string {
  const base = (name ?? "").split(/[\\/]/).pop() ?? "";
  return base.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, "").trim().slice(0, 120) || "agreement.pdf.asc";
}

/** Only a user ID chosen for certification can be published: the directory lists certified names only. */
export function checkPublishChoice(certify: readonly string[], publish: readonly string[]): FormProblem[] {
  const stray = publish.find((userId) => !certify.includes(userId));
  if (stray === undefined) return [];
  return [{ field: "publishUserIds", code: "KEYSIGN_ERR_PUBLISH_UNCERTIFIED", message: `"${stray}" is not chosen for certification, so it cannot be published. Tick it under "User IDs to certify", or untick it here.` }];
}

function checkUserIdChoice(choices: UserIdChoice[], selected: string[]): FormProblem[] {
  if (selected.length === 0) {
    return [{ field: "certifyUserIds", code: "KEYSIGN_ERR_NO_USER_ID", message: "Choose at least one user ID to certify." }];
  }
  for (const userId of selected) {
    const choice = choices.find((c) => c.userId === userId);
    if (!choice) {
      return [{ field: "certifyUserIds", code: "KEYSIGN_ERR_USER_ID_UNKNOWN", message: "One of the chosen user IDs is not on this key. Choose from the user IDs listed." }];
    }
    if (!choice.confirmed) {
      return [{ field: "certifyUserIds", code: "KEYSIGN_ERR_USER_ID_UNCONFIRMED", message: `The address of "${userId}" is not confirmed on your account. Confirm it first, or leave this user ID out.` }];
    }
  }
  return [];
}

/** Creation is the lifecycle's `submit` event from "no request"; the state machine still has the last word. */
async function appendSubmitEvent(tx: Tx, requestId: string, actor: Actor, valid: ValidSubmission, now: Date): Promise<void> {
  const check = checkTransition(null, "submit", actor.type);
  if (!check.ok) throw new Error(check.message);
  await appendAuditEvent(
    tx,
    { actorType: actor.type, actorId: actor.id, ip: actor.ip, action: "request.submit", requestId, fromState: null, toState: "submitted", data: revisionData(valid) },
    now,
  );
}

function revisionData(valid: ValidSubmission): Record<string, unknown> {
  return {
    fingerprint: valid.checked.facts.fingerprint,
    userIds: valid.certifyUserIds,
    agreementSha256: valid.agreement.sha256,
    agreementFileName: valid.agreement.fileName,
  };
}

function asKeyProblem(problem: PolicyProblem): FormProblem {
  return formProblem("key", problem);
}

function statusFor(problems: ReadonlyArray<{ code: string }>): number {
  if (problems.some((p) => p.code.endsWith("TOO_LARGE"))) return 413;
  return problems.some((p) => CONFLICT_CODES.has(p.code)) ? 409 : 400;
}

function throwIfAny(problems: FormProblem[]): void {
  if (problems.length > 0) throw new FormError(problems, statusFor(problems));
}

/** Stores the verified signature re-encoded from its packets, never the upload's surrounding text. */
export async function armorSignature(signature: Uint8Array): Promise<string> {
  const text = Buffer.from(signature).toString("utf8");
  const parsed = text.includes("-----BEGIN PGP SIGNATURE-----")
    ? await openpgp.readSignature({ armoredSignature: text })
    : await openpgp.readSignature({ binarySignature: signature });
  return parsed.armor();
}

/**
 * The agreement version a revision is signed under: a newly uploaded PDF is the current
 * version's; the same PDF kept from the previous revision keeps that revision's version.
 */
async function signedAgreementVersion(tx: Tx, requestId: string, sha256: string): Promise<number> {
  const previous = await tx.agreement.findFirst({ where: { requestId }, orderBy: { revision: "desc" }, select: { sha256: true, agreementVersion: true } });
  if (previous && previous.sha256 === sha256) return previous.agreementVersion;
  return (await readSettings(tx)).agreementVersion;
}
