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

/** What a swap found: the agreement file the set named before (now the caller's to remove), or why nothing changed. */
export type HeldSwap = { swapped: true; previous: string | null } | { swapped: false; reason: "gone" | "changed" };

/**
 * Points the set at `files` and returns the agreement file it named before, in one transaction, so
 * that of parallel tries each learns exactly the file it replaced. With `expected`, only while the
 * set still names that file. Not swapped when the set is gone (swept, or trimmed by another form).
 */
export async function swapHeldUpload(db: Db, id: string, files: HeldUploadFiles, expiresAt: Date, expected?: string | null): Promise<HeldSwap> {
  return db.$transaction(async (tx): Promise<HeldSwap> => {
    const row = await tx.heldUpload.findUnique({ where: { id }, select: { agreementStorageName: true } });
    if (!row) return { swapped: false, reason: "gone" };
    if (expected !== undefined && row.agreementStorageName !== expected) return { swapped: false, reason: "changed" };
    await tx.heldUpload.update({ where: { id }, data: { ...files, signature: files.signature ? Buffer.from(files.signature) : null, expiresAt } });
    return { swapped: true, previous: row.agreementStorageName };
  });
}

/**
 * Deletes the rows; returns the agreement files they named, for the caller to remove. One
 * transaction, so a swap cannot slip a new file in between the read and the delete.
 */
export async function deleteHeldUploads(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const where = { id: { in: [...ids] } };
  const rows = await db.$transaction(async (tx) => {
    const named = await tx.heldUpload.findMany({ where, select: { agreementStorageName: true } });
    await tx.heldUpload.deleteMany({ where });
    return named;
  });
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
