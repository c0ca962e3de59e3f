/**
 * "Re-certify with the new master" (docs/master-rotation.md): one batch for the new master
 * with every live certification of the current master the new one does not make yet, as
 * `recertify` items. Same envelope, queue-key signature and bounds as any batch.
 *
 * The new certification never outlasts the one it repeats (docs/decisions.md): its validity
 * counts whole days from the batch's expiry, the latest moment it can be signed, to the old
 * certification's expiry. One that lapses before the batch could be signed is left out:
 * renewing it is a reviewer's decision.
 */
import { randomUUID } from "node:crypto";
import { DEFAULT_KEY_POLICY, inspectKey } from "../core/key-policy.ts";
import { certificationExpiry } from "../core/publication/key-status.ts";
import { sealEnvelope, sha256Hex, signDetached } from "../core/transfer/envelope.ts";
import { encodePayload, type RecertifyItem } from "../core/transfer/formats.ts";
import { keyStatusUrl } from "../core/transfer/revocation-text.ts";
import { keyEndingRevocation } from "../core/key-history.ts";
import { ConflictError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { certifiedPair, findCertifiedPairs, findLiveCertifications, findOpenRecertificationBatches, readMasterKeys, type LiveCertification } from "../repositories/master-keys.ts";
import { findPublishedKeys } from "../repositories/publication.ts";
import { findKeyRevocationHistory } from "../repositories/revocations.ts";
import { readSettings } from "../repositories/settings.ts";
import { nextBatchNumber } from "../repositories/signing-queue.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import { batchPayload, exportPrerequisites, notationsFor, type BatchHeader } from "./batch-export.ts";
import type { ServiceContext, StaffActor } from "./context.ts";

const DAY_MS = 86_400_000;
/** The batch format's limit on one item's user IDs. */
const MAX_USER_IDS = 10;
/** Why a live certification is not repeated, for the officer who pressed the button. */
const SKIPPED_REASONS =
  "they lapse before a batch could be signed (renew them instead), their user ID was revoked by the key's owner, their key was revoked or expired, no longer passes the policy, or had a certification revoked because it was compromised or signed a malicious module.";

export interface RecertifyOutcome {
  number: number;
  sha256: string;
  items: number;
  /** Certifications left out: they lapse too soon, their user ID or key was revoked, or their key no longer passes the policy. */
  skipped: number;
}

/** The certifications of one request that one item re-certifies. */
interface Group {
  requestId: string;
  rows: LiveCertification[];
}

export async function exportRecertification(ctx: ServiceContext, queueKey: QueueKey, staff: StaffActor): Promise<RecertifyOutcome> {
  const { db, config } = ctx;
  const now = new Date(Math.floor(ctx.now().getTime() / 1000) * 1000);
  const settings = await readSettings(db);
  const masters = await readMasterKeys(db);
  const current = masters.find((master) => master.role === "current");
  const next = masters.find((master) => master.role === "new");
  if (!current || !next) throw new ConflictError("There is no new master key to re-certify with. An admin registers it in Settings first.", "KEYSIGN_ERR_NO_NEW_MASTER");
  const unset = exportPrerequisites(settings, config.PUBLIC_URL);
  if (unset !== null) throw new ConflictError(unset, "KEYSIGN_ERR_EXPORT_SETTINGS");
  const open = await findOpenRecertificationBatches(db);
  if (open.length > 0) {
    throw new ConflictError(`Batch ${open.join(", ")} with re-certifications is still open. Import its result (or cancel it once it has expired) before making another.`, "KEYSIGN_ERR_RECERTIFY_OPEN");
  }
  const expiresAt = new Date(now.getTime() + config.BATCH_EXPIRY_DAYS * DAY_MS);
  const { groups, skipped } = await pendingGroups(ctx, current.fingerprint, next.fingerprint, { now, expiresAt });
  if (groups.length === 0) {
    const why = skipped > 0 ? ` ${skipped} certification(s) were left out: ${SKIPPED_REASONS}` : "";
    throw new ConflictError(`Every live certification is already made by the new master, so no batch was made.${why}`, "KEYSIGN_ERR_RECERTIFY_EMPTY");
  }
  return db.$transaction(
    async (tx) => {
      const number = await nextBatchNumber(tx);
      const header: BatchHeader = { number, portal: config.PUBLIC_URL, createdAt: now, expiresAt, queueKeyFingerprint: queueKey.fingerprint, settings: { ...settings, masterFingerprint: next.fingerprint } };
      const items = groups.map((group) => recertifyItem(randomUUID(), group, header, { staff: staff.email, previousMaster: current.fingerprint }));
      const payload = encodePayload(batchPayload(header, items));
      const file = sealEnvelope("batch", payload, await signDetached(payload, queueKey.privateKey, now));
      const sha256 = sha256Hex(file);
      await tx.batch.create({ data: { number, state: "exported", createdAt: now, expiresAt, createdById: staff.id, file: new Uint8Array(file), sha256 } });
      for (const item of items) await tx.batchItem.create({ data: { id: item.id, batchNumber: number, requestId: item.requestId, kind: item.kind } });
      const data = { batch: number, sha256, items: items.length, recertify: true, master: next.fingerprint, previousMaster: current.fingerprint, skipped, expiresAt: expiresAt.toISOString() };
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "batch.export", data }, now);
      return { number, sha256, items: items.length, skipped };
    },
    { timeout: 120_000 },
  );
}

/** The current master's live certifications the new master has not made, per request, minus what cannot be re-certified now. */
async function pendingGroups(ctx: ServiceContext, current: string, next: string, window: { now: Date; expiresAt: Date }): Promise<{ groups: Group[]; skipped: number }> {
  const [live, covered] = await Promise.all([findLiveCertifications(ctx.db, current), findCertifiedPairs(ctx.db, next)]);
  const byRequest = new Map<string, LiveCertification[]>();
  let skipped = 0;
  for (const row of live) {
    if (covered.has(certifiedPair(row.requestId, row.userId))) continue;
    if (remainingDays(certificationExpiry(row.signature), window.expiresAt) === 0) {
      skipped += 1;
      continue;
    }
    byRequest.set(row.requestId, [...(byRequest.get(row.requestId) ?? []), row]);
  }
  const groups: Group[] = [];
  for (const [requestId, rows] of byRequest) {
    const valid = await recertifiableUserIds(ctx, rows[0]?.request.keys[0], window.now);
    const kept = rows.filter((row) => valid.has(row.userId));
    skipped += rows.length - kept.length;
    if (kept.length > 0) groups.push({ requestId, rows: kept.slice(0, MAX_USER_IDS) });
  }
  return { groups, skipped };
}

/**
 * The user IDs of a request's key that the new master may certify. None for a key whose
 * certification was revoked for good (compromised, malicious module) on any request, as intake,
 * review and the normal export refuse it, nor for a key revoked or expired by its owner (as
 * published, owner updates included) or one that no longer passes the policy. Otherwise the user
 * IDs still validly bound on the published key: an owner update may have revoked some since the
 * certification, and the stored canonical copy predates it.
 */
async function recertifiableUserIds(ctx: ServiceContext, key: LiveCertification["request"]["keys"][number] | undefined, now: Date): Promise<Set<string>> {
  if (!key) return new Set();
  if (keyEndingRevocation(await findKeyRevocationHistory(ctx.db, key.fingerprint)) !== null) return new Set();
  const published = (await findPublishedKeys(ctx.db, key.fingerprint))[0]?.canonicalKey ?? key.canonicalKey;
  const inspected = await inspectKey(published, { ...DEFAULT_KEY_POLICY, minRsaBits: ctx.config.MIN_RSA_BITS, now });
  return new Set(inspected.ok ? inspected.facts.userIds.map((user) => user.userId) : []);
}

/** Whole days from `from` to `expiry`, rounded down; null for a certification that never expires. 0: too late to repeat. */
function remainingDays(expiry: Date | null, from: Date): number | null {
  if (expiry === null) return null;
  return Math.max(0, Math.floor((expiry.getTime() - from.getTime()) / DAY_MS));
}

function recertifyItem(id: string, group: Group, header: BatchHeader, who: { staff: string; previousMaster: string }): RecertifyItem {
  const [first] = group.rows;
  const key = first?.request.keys[0];
  if (!first || !key) throw new Error("a re-certification group has no key");
  const expiries = group.rows.map((row) => certificationExpiry(row.signature));
  const known = expiries.flatMap((expiry) => (expiry === null ? [] : [expiry.getTime()]));
  // The earliest lapse of the group: no user ID's new certification outlasts its old one.
  const previousExpiresAt = known.length === 0 ? null : new Date(Math.min(...known));
  const request = { id: group.requestId, agreementSha256: first.request.agreements[0]?.sha256 ?? "" };
  return {
    kind: "recertify",
    id,
    requestId: group.requestId,
    fingerprint: key.fingerprint,
    key: Buffer.from(key.canonicalKey).toString("base64"),
    keySha256: key.canonicalSha256,
    userIds: group.rows.map((row) => row.userId),
    // Who asked for the re-certification: reviewers approved the certification it repeats.
    approvals: [{ staff: who.staff, at: header.createdAt.toISOString() }],
    statusUrl: keyStatusUrl(header.portal, key.fingerprint),
    certification: {
      validityDays: remainingDays(previousExpiresAt, header.expiresAt) ?? header.settings.certificationValidityDays,
      policyUrl: header.settings.policyUrl,
      notations: notationsFor(header.settings.certificationDomain, request, header.number),
    },
    previousMaster: who.previousMaster,
    previousExpiresAt: previousExpiresAt?.toISOString() ?? null,
  };
}
