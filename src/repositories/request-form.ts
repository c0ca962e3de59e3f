import type { Db } from "../db/client.ts";
import { NotFoundError } from "../errors.ts";
import { parseStrings } from "./requests.ts";

/** What a revision's form starts from: the request's declarations and its current key. */
export interface RevisionDefaults {
  licence: string;
  projectUrls: string[];
  attestOpenSource: boolean;
  attestNotCommercial: boolean;
  attestAgreement: boolean;
  publishedUserIds: string[];
  /** The canonical copy of the current key, as reviewed. */
  canonicalKey: Uint8Array;
  certifyUserIds: string[];
}

export async function loadRevisionDefaults(db: Db, requestId: string, applicantId: string): Promise<RevisionDefaults> {
  const row = await db.request.findFirst({
    where: { id: requestId, applicantId },
    include: { keys: { orderBy: { revision: "desc" }, take: 1, select: { canonicalKey: true, certifyUserIds: true } } },
  });
  const key = row?.keys[0];
  if (!row || !key) throw new NotFoundError();
  return {
    licence: row.licence,
    projectUrls: parseStrings(row.projectUrls),
    attestOpenSource: row.attestOpenSource,
    attestNotCommercial: row.attestNotCommercial,
    attestAgreement: row.attestAgreement,
    publishedUserIds: parseStrings(row.publishedUserIds),
    canonicalKey: new Uint8Array(key.canonicalKey),
    certifyUserIds: parseStrings(key.certifyUserIds),
  };
}

export async function findApplicantEmail(db: Db, applicantId: string): Promise<string | null> {
  return (await db.applicant.findUnique({ where: { id: applicantId }, select: { email: true } }))?.email ?? null;
}
