/**
 * Owner updates of published keys, from `POST /pks/add` and from the request page: intake's
 * bounds, the merge (src/core/publication/owner-update.ts), then one transaction with the
 * stored copy, its audit event and the owner's email; the publication is told after it commits.
 * A refusal or an update that changes nothing leaves no row, event or email.
 */
import type { Config as OpenPgpConfig } from "openpgp";
import { KEY_POLICY_CODES } from "../core/key-policy.ts";
import { readUpload } from "../core/key-policy/intake.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { describeChange, describeStripped, fingerprintOf, mergeOwnerUpdate, notCertified, type UpdateSummary } from "../core/publication/owner-update.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, NotFoundError, OwnerUpdateRefusedError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { countKeyUpdates, createKeyUpdate, findKeyOwner, findOwnedRequestKey, type KeyUpdateSource } from "../repositories/key-updates.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { findPublishedKeys } from "../repositories/publication.ts";
import { messageIdDomain, type ServiceContext } from "./context.ts";
import { emailCommon, renderEmail } from "./mail-templates.ts";

export interface OwnerUpdateInput {
  upload: Uint8Array;
  source: KeyUpdateSource;
  ip: string;
  /** For uploads on the request page: whose request, so only that request's key is taken. */
  applicant?: { id: string; requestId: string };
}

export interface OwnerUpdateOutcome {
  merged: boolean;
  fingerprint: string;
  /** One plain sentence per change, then what was left out; for the answer and the page. */
  lines: string[];
}

const NOT_THE_REQUESTS_KEY = (fingerprint: string) =>
  `This is not the key of this request, which certified ${fingerprint}. Nothing was stored. Upload an update of that key (gpg --armor --export ${fingerprint}).`;
const NOT_CERTIFIED_YET = "This request has no certified key yet, so there is nothing to update. Updates are taken once the request is certified.";
const SEVERAL_KEYS = "This carries several keys; send one key at a time (gpg --send-keys sends each key on its own, and the upload takes one). Nothing was stored.";
/**
 * Merged updates of one key in a day. An owner needs a few a year (a new expiry, a rotated
 * subkey); each stored copy may be up to 256 KiB and every read of the published keys unions
 * them, so a key owner sending a new self-signature every few seconds would grow the database
 * and the cost of every lookup without end.
 */
export const MAX_UPDATES_PER_DAY = 10;
const DAY_MS = 86_400_000;
const TOO_OFTEN = `This key was already updated ${MAX_UPDATES_PER_DAY} times in the last 24 hours, the most the portal takes. Nothing was stored; send the update again tomorrow.`;
const RACED = "Another update of this key arrived at the same moment. Nothing was stored from this one; send it again.";

export class OwnerUpdateService {
  constructor(private readonly ctx: ServiceContext) {}

  async apply(input: OwnerUpdateInput): Promise<OwnerUpdateOutcome> {
    const config = inspectionConfig({ minRsaBits: this.ctx.config.MIN_RSA_BITS });
    const { packets, fingerprint, published } = await this.readUpdate(input, config);
    const basis = await countKeyUpdates(this.ctx.db, fingerprint);
    const now = this.ctx.now();
    const masterSignatures = published.certifications.flatMap((entry) => [entry.certification, ...(entry.revocation ? [entry.revocation] : [])]);
    const result = await mergeOwnerUpdate(published.canonicalKey, packets, { now, minRsaBits: this.ctx.config.MIN_RSA_BITS }, config, masterSignatures);
    if (result.kind === "refused") throw refused(result.problem.code, capitalise(result.problem.message), 400);
    if (result.kind === "unchanged") return { merged: false, fingerprint, lines: linesOf(result.summary) };
    const since = new Date(now.getTime() - DAY_MS);
    if ((await countKeyUpdates(this.ctx.db, fingerprint, since)) >= MAX_UPDATES_PER_DAY) throw refused("KEYSIGN_ERR_UPDATE_TOO_OFTEN", TOO_OFTEN, 429);
    const owner = await findKeyOwner(this.ctx.db, fingerprint);
    await this.ctx.db.$transaction(async (tx) => {
      // Merged onto the updates read above; one stored meanwhile would be lost from this copy.
      if ((await countKeyUpdates(tx, fingerprint)) !== basis) throw new ConflictError(RACED, "KEYSIGN_ERR_UPDATE_RACED");
      const summary = JSON.stringify(result.summary);
      await createKeyUpdate(tx, { fingerprint, canonicalKey: result.canonicalKey, sha256: result.sha256, source: input.source, summary, applicantId: input.applicant?.id ?? null }, now);
      const actor = input.applicant ? { actorType: "applicant" as const, actorId: input.applicant.id } : { actorType: "system" as const, actorId: null };
      const data = { fingerprint, source: input.source, sha256: result.sha256, changes: result.summary.changes, stripped: result.summary.stripped };
      await appendAuditEvent(tx, { ...actor, ip: input.ip, action: "key.owner_update", requestId: owner?.requestId ?? null, data }, now);
      if (owner) await this.queueEmail(tx, owner, fingerprint, result.summary, now);
    });
    this.ctx.publicationChanged();
    this.ctx.mailQueued();
    return { merged: true, fingerprint, lines: linesOf(result.summary) };
  }

  /** Intake's bounds on the raw upload, then which published key it is (or a refusal). */
  private async readUpdate(input: OwnerUpdateInput, config: OpenPgpConfig) {
    const expected = input.applicant ? await this.requestFingerprint(input.applicant) : null;
    const intake = await readUpload(input.upload, config);
    if (!intake.ok && intake.problem.code === KEY_POLICY_CODES.multiple) throw refused(intake.problem.code, SEVERAL_KEYS, 400);
    if (!intake.ok) throw refused(intake.problem.code, capitalise(intake.problem.message), 400);
    const fingerprint = await fingerprintOf(intake.packets);
    if (expected && fingerprint !== expected) throw refused("KEYSIGN_ERR_UPDATE_WRONG_KEY", NOT_THE_REQUESTS_KEY(expected), 400);
    const [published] = fingerprint ? await findPublishedKeys(this.ctx.db, fingerprint) : [];
    if (!fingerprint || !published) throw refused(notCertified().code, notCertified().message, 403);
    return { packets: intake.packets, fingerprint, published };
  }

  private async requestFingerprint(applicant: { id: string; requestId: string }): Promise<string> {
    const request = await findOwnedRequestKey(this.ctx.db, applicant.requestId, applicant.id);
    if (!request.fingerprint) throw new NotFoundError();
    if (request.state !== "certified" && request.state !== "revoked") throw refused("KEYSIGN_ERR_UPDATE_NOT_CERTIFIED_YET", NOT_CERTIFIED_YET, 409);
    return request.fingerprint;
  }

  private async queueEmail(tx: Tx, owner: { email: string; requestId: string }, fingerprint: string, summary: UpdateSummary, now: Date): Promise<void> {
    const email = renderEmail("key-updated", {
      fingerprint,
      changes: summary.changes.map(describeChange),
      stripped: describeStripped(summary.stripped),
      link: `${this.ctx.config.PUBLIC_URL}/requests/${owner.requestId}`,
      keyPage: `${this.ctx.config.PUBLIC_URL}/keys/${fingerprint}`,
    }, await emailCommon(tx, this.ctx.config));
    // The recipient is the owner's verified sign-in address, never an address taken from the key.
    await enqueueEmail(tx, { ...email, recipient: owner.email }, messageIdDomain(this.ctx.config), now);
  }
}

function refused(code: string, message: string, status: number): OwnerUpdateRefusedError {
  return new OwnerUpdateRefusedError(code, message, status);
}

/** Intake's messages start in lower case, to follow "The key was refused: ". */
function capitalise(message: string): string {
  return message.charAt(0).toUpperCase() + message.slice(1);
}

export function linesOf(summary: UpdateSummary): string[] {
  const stripped = describeStripped(summary.stripped);
  return [...summary.changes.map(describeChange), ...(stripped ? [stripped] : [])];
}
