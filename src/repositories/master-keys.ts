import { parseRetiredMasters, type MasterKey } from "../core/master-keys.ts";
import type { Db, Tx } from "../db/client.ts";

/** Setting rows of a rotation; the current master stays in `masterPublicKey` / `masterFingerprint`. */
export const ROTATION_SETTINGS = {
  newPublicKey: "newMasterPublicKey",
  newFingerprint: "newMasterFingerprint",
  retired: "retiredMasterKeys",
} as const;

const KEYS = ["masterPublicKey", "masterFingerprint", ...Object.values(ROTATION_SETTINGS)];

/** Every registered master: the current one, the new one being introduced, the retired ones. */
export async function readMasterKeys(db: Db | Tx): Promise<MasterKey[]> {
  const rows = await db.setting.findMany({ where: { key: { in: KEYS } } });
  const stored = new Map(rows.map((row) => [row.key, row.value]));
  const masters: MasterKey[] = [];
  const current = stored.get("masterFingerprint");
  if (current && stored.get("masterPublicKey")) masters.push({ fingerprint: current.toUpperCase(), publicKey: stored.get("masterPublicKey") ?? "", role: "current", retiredAt: null });
  const next = stored.get(ROTATION_SETTINGS.newFingerprint);
  if (next && stored.get(ROTATION_SETTINGS.newPublicKey)) masters.push({ fingerprint: next.toUpperCase(), publicKey: stored.get(ROTATION_SETTINGS.newPublicKey) ?? "", role: "new", retiredAt: null });
  return [...masters, ...parseRetiredMasters(stored.get(ROTATION_SETTINGS.retired))];
}

/** Writes (or, with "", clears) setting rows by name. */
export async function writeMasterSettings(tx: Tx, values: Readonly<Record<string, string>>, staffId: string, now: Date): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    await tx.setting.upsert({ where: { key }, create: { key, value, updatedAt: now, updatedBy: staffId }, update: { value, updatedAt: now, updatedBy: staffId } });
  }
}

/**
 * Certifications still in force by the master `fingerprint` (not superseded, not revoked) of
 * requests that are certified: what a re-certification covers and what retiring leaves behind.
 */
export async function findLiveCertifications(db: Db | Tx, fingerprint: string) {
  return db.certification.findMany({
    // "": rows from before masters were recorded, all made by the master then current.
    where: { masterFingerprint: { in: [fingerprint, ""] }, supersededAt: null, revokedAt: null, request: { state: "certified" } },
    orderBy: [{ requestId: "asc" }, { userId: "asc" }],
    select: {
      id: true,
      requestId: true,
      userId: true,
      signature: true,
      certifiedAt: true,
      request: {
        select: {
          keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true, canonicalKey: true, canonicalSha256: true } },
          agreements: { orderBy: { revision: "desc" }, take: 1, select: { sha256: true } },
          applicant: { select: { email: true } },
        },
      },
    },
  });
}
export type LiveCertification = Awaited<ReturnType<typeof findLiveCertifications>>[number];

/** The same certifications as findLiveCertifications, named only (request, user ID, key): what a page lists. */
export async function findLiveCertificationNames(db: Db | Tx, fingerprint: string) {
  const rows = await db.certification.findMany({
    where: { masterFingerprint: { in: [fingerprint, ""] }, supersededAt: null, revokedAt: null, request: { state: "certified" } },
    orderBy: [{ requestId: "asc" }, { userId: "asc" }],
    select: { requestId: true, userId: true, request: { select: { keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } } } },
  });
  return rows.map((row) => ({ requestId: row.requestId, userId: row.userId, fingerprint: row.request.keys[0]?.fingerprint ?? "" }));
}

/** The (request, user ID) pairs `fingerprint` has certified, revoked or not: what a re-certification already covered. */
export async function findCertifiedPairs(db: Db | Tx, fingerprint: string): Promise<Set<string>> {
  const rows = await db.certification.findMany({ where: { masterFingerprint: fingerprint }, select: { requestId: true, userId: true } });
  return new Set(rows.map((row) => certifiedPair(row.requestId, row.userId)));
}

export function certifiedPair(requestId: string, userId: string): string {
  return `${requestId}\n${userId}`;
}

/** Batches still open (exported, not imported or cancelled) that hold re-certification items. */
export async function findOpenRecertificationBatches(db: Db | Tx): Promise<number[]> {
  const rows = await db.batch.findMany({ where: { state: "exported", items: { some: { kind: "recertify" } } }, select: { number: true } });
  return rows.map((row) => row.number);
}

/** Whether any re-certification batch was imported (the step before the old master is retired). */
export async function recertificationImported(db: Db | Tx): Promise<boolean> {
  return (await db.batch.count({ where: { state: "imported", items: { some: { kind: "recertify" } } } })) > 0;
}

/** The files of every open (exported) batch. */
export async function findOpenBatchFiles(db: Db | Tx): Promise<Uint8Array[]> {
  const rows = await db.batch.findMany({ where: { state: "exported" }, select: { file: true } });
  return rows.map((row) => new Uint8Array(row.file));
}
