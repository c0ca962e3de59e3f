import { randomUUID } from "node:crypto";
import type { Db, Tx } from "../db/client.ts";
import { NotFoundError } from "../errors.ts";

export type KeyUpdateSource = "hkp" | "upload";

export interface KeyUpdateRecord {
  id: string;
  source: KeyUpdateSource;
  /** The stored JSON summary (what changed, what was left out); never key material. */
  summary: string;
  createdAt: Date;
}

/** How many owner updates of `fingerprint` are stored: a new update is merged onto all of them. */
export async function countKeyUpdates(db: Db | Tx, fingerprint: string, since?: Date): Promise<number> {
  return db.keyUpdate.count({ where: { fingerprint, ...(since ? { createdAt: { gte: since } } : {}) } });
}

/**
 * The merged copies owners sent, per key, oldest first: of the key with `fingerprint`, or of
 * every key (a list of fingerprints in the query would outgrow SQLite's parameter limit at
 * thousands of keys). Each one holds everything of those before it, so their union is the
 * newest, whatever order rows stored in the same instant come back in.
 */
export async function updatedKeys(db: Db, fingerprint?: string): Promise<Map<string, Uint8Array[]>> {
  const rows = await db.keyUpdate.findMany({
    ...(fingerprint ? { where: { fingerprint } } : {}),
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: { fingerprint: true, canonicalKey: true },
  });
  const byKey = new Map<string, Uint8Array[]>();
  for (const row of rows) byKey.set(row.fingerprint, [...(byKey.get(row.fingerprint) ?? []), new Uint8Array(row.canonicalKey)]);
  return byKey;
}

export async function createKeyUpdate(
  tx: Tx,
  row: { fingerprint: string; canonicalKey: Uint8Array; sha256: string; source: KeyUpdateSource; summary: string; applicantId: string | null },
  now: Date,
): Promise<string> {
  const id = randomUUID();
  await tx.keyUpdate.create({ data: { id, ...row, canonicalKey: new Uint8Array(row.canonicalKey), createdAt: now } });
  return id;
}

/** Every owner update of a key, newest first, for the request pages. */
export async function listKeyUpdates(db: Db, fingerprint: string): Promise<KeyUpdateRecord[]> {
  const rows = await db.keyUpdate.findMany({ where: { fingerprint }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], select: { id: true, source: true, summary: true, createdAt: true } });
  return rows.map((row) => ({ ...row, source: row.source === "hkp" ? "hkp" : "upload" }));
}

/** The owner of a published key: the applicant of the newest certified request for it. */
export async function findKeyOwner(db: Db, fingerprint: string): Promise<{ applicantId: string; email: string; requestId: string } | null> {
  const request = await db.request.findFirst({
    where: { state: { in: ["certified", "revoked"] }, certifications: { some: {} }, keys: { some: { fingerprint } } },
    orderBy: { createdAt: "desc" },
    select: { id: true, applicant: { select: { id: true, email: true } } },
  });
  return request ? { applicantId: request.applicant.id, email: request.applicant.email, requestId: request.id } : null;
}

/** The state and key fingerprint of an applicant's own request; others' requests are not found (404). */
export async function findOwnedRequestKey(db: Db, requestId: string, applicantId: string): Promise<{ state: string; fingerprint: string | null }> {
  const row = await db.request.findFirst({ where: { id: requestId, applicantId }, select: { state: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } } } });
  if (!row) throw new NotFoundError();
  return { state: row.state, fingerprint: row.keys[0]?.fingerprint ?? null };
}
