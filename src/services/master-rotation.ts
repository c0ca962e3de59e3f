/**
 * A master key rotation (docs/master-rotation.md): register a new master beside the current
 * one, re-certify every live certification with it (recertify-export.ts), then retire the old
 * master. Each step is an admin's, confirmed and audited; the old key's certifications and
 * revocations stay published for good.
 */
import { readKey, type PublicKey } from "openpgp";
import { armorPublicKey, DEFAULT_KEY_POLICY, formatFingerprint, formProblem, inspectKey } from "../core/key-policy.ts";
import { findMaster, newMasterProblem, serialiseRetiredMasters, type MasterKey } from "../core/master-keys.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { envelopeIssuer } from "../core/transfer/envelope.ts";
import { parseBatchPayload, parseEnvelope } from "../core/transfer/formats.ts";
import { ConflictError, FormError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { findCertifiedPairs, certifiedPair, findLiveCertificationNames, findOpenBatchFiles, findOpenRecertificationBatches, readMasterKeys, recertificationImported, ROTATION_SETTINGS, writeMasterSettings } from "../repositories/master-keys.ts";
import { queuedRevocations, type QueuedRevocation } from "../repositories/signing-queue.ts";
import type { ServiceContext, StaffActor } from "./context.ts";

/** A certification the retirement would leave with the old master only, as the warning lists it. */
export interface Uncovered {
  requestId: string;
  userId: string;
  fingerprint: string;
}

export interface RotationView {
  masters: MasterKey[];
  /** Set while a new master is registered: whether a re-certification batch was imported. */
  recertified: boolean;
  /** The old master's live certifications the new master has not certified yet. */
  uncovered: Uncovered[];
  /** Re-certification batches exported and not yet imported or cancelled. */
  openRecertifications: number[];
  /** Masters other than the current one with revocations waiting that only they can sign. */
  waitingRevocations: Array<{ fingerprint: string; role: MasterKey["role"]; count: number }>;
}

export class MasterRotationService {
  constructor(private readonly ctx: ServiceContext) {}

  async view(): Promise<RotationView> {
    const { db } = this.ctx;
    const masters = await readMasterKeys(db);
    const current = masters.find((master) => master.role === "current");
    const next = masters.find((master) => master.role === "new");
    const waitingRevocations = await waitingFor(db, masters);
    if (!current || !next) return { masters, recertified: false, uncovered: [], openRecertifications: [], waitingRevocations };
    const [recertified, uncovered, openRecertifications] = await Promise.all([recertificationImported(db), uncoveredBy(this.ctx, current.fingerprint, next.fingerprint), findOpenRecertificationBatches(db)]);
    return { masters, recertified, uncovered, openRecertifications, waitingRevocations };
  }

  /** The new master's PUBLIC key: the same intake policy as the current one's upload, and never a key the portal already knows. */
  async registerNew(upload: Uint8Array, staff: StaffActor): Promise<MasterKey> {
    const result = await inspectKey(upload, { ...DEFAULT_KEY_POLICY, minRsaBits: this.ctx.config.MIN_RSA_BITS, now: this.ctx.now() });
    if (!result.ok) throw new FormError(result.problems.map((p) => formProblem("newMasterKey", p)));
    const now = this.ctx.now();
    const fingerprint = result.facts.fingerprint.toUpperCase();
    return this.ctx.db.$transaction(async (tx) => {
      const masters = await readMasterKeys(tx);
      const problem = masters.some((master) => master.role === "new") ? "A new master is already registered. Retire the old master first, or finish that rotation." : newMasterProblem(masters, fingerprint);
      if (problem !== null) throw new FormError([{ field: "newMasterKey", code: "KEYSIGN_ERR_NEW_MASTER", message: problem }]);
      const publicKey = armorPublicKey(result.minimal);
      await writeMasterSettings(tx, { [ROTATION_SETTINGS.newPublicKey]: publicKey, [ROTATION_SETTINGS.newFingerprint]: fingerprint }, staff.id, now);
      const current = masters.find((master) => master.role === "current")?.fingerprint ?? null;
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "master.register_new", data: { fingerprint, current } }, now);
      return { fingerprint, publicKey, role: "new" as const, retiredAt: null };
    });
  }

  /**
   * The new master becomes current and the old one is kept as retired. Unless a
   * re-certification batch was imported, the admin must have seen the certifications that
   * stay with the old master only (`acknowledged`): installs trusting only the new master
   * would no longer see those keys as valid.
   */
  async retireOld(staff: StaffActor, acknowledged: boolean): Promise<MasterKey> {
    const now = this.ctx.now();
    const { uncovered } = await this.view();
    return this.ctx.db.$transaction(async (tx) => {
      const masters = await readMasterKeys(tx);
      const current = masters.find((master) => master.role === "current");
      const next = masters.find((master) => master.role === "new");
      if (!current || !next) throw new ConflictError("There is no new master to hand over to. Register the new master's public key first.", "KEYSIGN_ERR_NO_NEW_MASTER");
      if (await openBatchesFor(tx, current.fingerprint)) {
        throw new ConflictError("A batch for the old master is still open. Import its result, or cancel it once it has expired, before retiring the old master.", "KEYSIGN_ERR_OLD_MASTER_BATCH");
      }
      if (uncovered.length > 0 && !acknowledged) {
        throw new ConflictError(`${uncovered.length} certification(s) are still made by the old master only. Re-certify them with the new master first, or confirm that you retire it anyway.`, "KEYSIGN_ERR_NOT_RECERTIFIED");
      }
      const retired = masters.filter((master) => master.role === "retired");
      await writeMasterSettings(
        tx,
        {
          masterPublicKey: next.publicKey,
          masterFingerprint: next.fingerprint,
          [ROTATION_SETTINGS.newPublicKey]: "",
          [ROTATION_SETTINGS.newFingerprint]: "",
          [ROTATION_SETTINGS.retired]: serialiseRetiredMasters([...retired, { ...current, role: "retired", retiredAt: now }]),
        },
        staff.id,
        now,
      );
      const data = { retired: current.fingerprint, current: next.fingerprint, leftWithOldMasterOnly: uncovered.length };
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "master.retire", data }, now);
      return { ...current, role: "retired" as const, retiredAt: now };
    });
  }
}

/** Whether a batch still open was exported for this master (the payload names it; the row does not). */
async function openBatchesFor(tx: Parameters<typeof readMasterKeys>[0], fingerprint: string): Promise<boolean> {
  const open = await findOpenBatchFiles(tx);
  return open.some((file) => batchMaster(file) === fingerprint);
}

/** The master a batch file of our own names; null when it cannot be read. */
function batchMaster(file: Uint8Array): string | null {
  try {
    return parseBatchPayload(new Uint8Array(Buffer.from(parseEnvelope(file).payload, "base64"))).master;
  } catch {
    return null;
  }
}

async function waitingFor(db: ServiceContext["db"], masters: readonly MasterKey[]): Promise<RotationView["waitingRevocations"]> {
  const others = masters.filter((master) => master.role !== "current");
  if (others.length === 0) return [];
  const queued = await queuedRevocations(db);
  return others.map((master) => ({ fingerprint: master.fingerprint, role: master.role, count: revocationsForMaster(queued, master.fingerprint).length })).filter((entry) => entry.count > 0);
}

async function uncoveredBy(ctx: ServiceContext, oldMaster: string, newMaster: string): Promise<Uncovered[]> {
  const [live, covered] = await Promise.all([findLiveCertificationNames(ctx.db, oldMaster), findCertifiedPairs(ctx.db, newMaster)]);
  return live.filter((row) => !covered.has(certifiedPair(row.requestId, row.userId)));
}

/**
 * The registered master that signed a result file: the one its signature names, when the
 * portal knows it (current, new or retired), otherwise the current one, whose check then
 * explains the refusal. Null when no master is set at all.
 */
export async function resultMaster(ctx: ServiceContext, file: Uint8Array): Promise<PublicKey | null> {
  const masters = await readMasterKeys(ctx.db);
  const issuer = await envelopeIssuer(file);
  const chosen = (issuer === null ? null : findMaster(masters, issuer)) ?? masters.find((master) => master.role === "current");
  if (!chosen) return null;
  return readKey({ armoredKey: chosen.publicKey, config: inspectionConfig({ minRsaBits: 2048 }) });
}

/**
 * What a batch for `master` revokes: that master's certifications without a sealed
 * revocation. Every other certification publishes its sealed revocation at import; one by
 * another master without a sealed revocation waits for a batch of that master.
 */
export function revocationsForMaster(revocations: readonly QueuedRevocation[], master: string): QueuedRevocation[] {
  const wanted = master.toUpperCase();
  return revocations.flatMap((revocation) => {
    const own = revocation.certifications.filter((c) => (c.masterFingerprint || wanted) === wanted && c.sealedRevocation === null);
    return own.length === 0 ? [] : [{ ...revocation, certifications: own }];
  });
}

/** The rule the import keeps: a result counts only when signed by the master its batch names. */
export function batchMasterProblem(batchMaster: string, signer: PublicKey, batch: number): string | null {
  const fingerprint = signer.getFingerprint().toUpperCase();
  if (batchMaster === fingerprint) return null;
  return `Batch ${batch} was exported for master key ${formatFingerprint(batchMaster)}, but the result is signed by ${formatFingerprint(fingerprint)}. Sign the batch on a signing machine pinned to the batch's master (keysign init --master-key) and import that result.`;
}
