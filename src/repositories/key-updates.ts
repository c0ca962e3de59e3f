import { randomUUID } from "node:crypto";
import type { Db, Tx } from "../db/client.ts";

export type KeyUpdateSource = "hkp" | "upload";

export interface KeyUpdateRecord {
  id: string;
  source: KeyUpdateSource;
  /** The stored JSON summary (what changed, what was left out); never key material. */
  summary: string;
  createdAt: Date;
}

/** The id of the newest owner update of `fingerprint`, or null: what a new update was merged onto. */
export async function newestKeyUpdateId(db: Db | Tx, fingerprint: string): Promise<string | null> {
  const row = await db.keyUpdate.findFirst({ where: { fingerprint }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], select: { id: true } });
  return row?.id ?? null;
}

/** The newest merged copy of each key in `fingerprints` that owners updated. */
export async function newestUpdatedKeys(db: Db, fingerprints: readonly string[]): Promise<Map<string, Uint8Array>> {
  const rows = await db.keyUpdate.findMany({
    where: { fingerprint: { in: [...fingerprints] } },
    orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    select: { fingerprint: true, canonicalKey: true },
  });
  // Oldest first, so the newest of each key is the one left in the map.
  return new Map(rows.map((row) => [row.fingerprint, new Uint8Array(row.canonicalKey)]));
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
