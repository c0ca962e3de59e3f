import type { Db, Tx } from "../db/client.ts";

/** One set of files kept from a failed request form. */
export interface HeldUploadRow {
  id: string;
  applicantId: string;
  purpose: string;
  agreementStorageName: string | null;
  agreementFileName: string | null;
  agreementSize: number | null;
  signature: Uint8Array | null;
  signatureFileName: string | null;
  createdAt: Date;
  expiresAt: Date;
}

export interface HeldUploadFiles {
  agreementStorageName: string | null;
  agreementFileName: string | null;
  agreementSize: number | null;
  signature: Uint8Array | null;
  signatureFileName: string | null;
}

export async function findHeldUpload(db: Db | Tx, handleHash: string): Promise<HeldUploadRow | null> {
  const row = await db.heldUpload.findUnique({ where: { handleHash } });
  return row && { ...row, signature: row.signature ? new Uint8Array(row.signature) : null };
}

export async function createHeldUpload(
  db: Db | Tx,
  input: { id: string; handleHash: string; applicantId: string; purpose: string; createdAt: Date; expiresAt: Date } & HeldUploadFiles,
): Promise<void> {
  await db.heldUpload.create({ data: { ...input, signature: input.signature ? Buffer.from(input.signature) : null } });
}

/** False when the set is gone meanwhile (swept, or trimmed by another form of the applicant). */
export async function updateHeldUpload(db: Db | Tx, id: string, files: HeldUploadFiles, expiresAt: Date): Promise<boolean> {
  const updated = await db.heldUpload.updateMany({ where: { id }, data: { ...files, signature: files.signature ? Buffer.from(files.signature) : null, expiresAt } });
  return updated.count === 1;
}

/** Deletes the rows; returns the agreement files they named, for the caller to remove. */
export async function deleteHeldUploads(db: Db | Tx, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db.heldUpload.findMany({ where: { id: { in: [...ids] } }, select: { agreementStorageName: true } });
  await db.heldUpload.deleteMany({ where: { id: { in: [...ids] } } });
  return rows.flatMap((row) => (row.agreementStorageName ? [row.agreementStorageName] : []));
}

/** The applicant's held sets, newest first. */
export async function listHeldUploadIdsOf(db: Db | Tx, applicantId: string): Promise<string[]> {
  const rows = await db.heldUpload.findMany({ where: { applicantId }, orderBy: { createdAt: "desc" }, select: { id: true } });
  return rows.map((row) => row.id);
}

export async function listExpiredHeldUploadIds(db: Db | Tx, now: Date): Promise<string[]> {
  const rows = await db.heldUpload.findMany({ where: { expiresAt: { lte: now } }, select: { id: true } });
  return rows.map((row) => row.id);
}

export async function heldAgreementStorageNames(db: Db | Tx): Promise<Set<string>> {
  const rows = await db.heldUpload.findMany({ where: { agreementStorageName: { not: null } }, select: { agreementStorageName: true } });
  return new Set(rows.flatMap((row) => (row.agreementStorageName ? [row.agreementStorageName] : [])));
}
