import type { Db } from "../db/client.ts";
import type { PublishedKeySource } from "../core/publication/published-key.ts";

const PUBLISHED_STATES = ["certified", "revoked"];

/**
 * Every published key (a request certified it, whatever happened since), or only the one with
 * `fingerprint`, grouped by key: the newest request's canonical copy and every certification.
 */
export async function findPublishedKeys(db: Db, fingerprint?: string): Promise<PublishedKeySource[]> {
  const requests = await db.request.findMany({
    where: { state: { in: PUBLISHED_STATES }, certifications: { some: {} }, ...(fingerprint ? { keys: { some: { fingerprint } } } : {}) },
    orderBy: { createdAt: "asc" },
    select: {
      keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true, canonicalKey: true } },
      certifications: { orderBy: { certifiedAt: "asc" }, select: { userId: true, signature: true, revocation: true } },
    },
  });
  const byKey = new Map<string, PublishedKeySource>();
  for (const request of requests) {
    const [key] = request.keys;
    if (!key || (fingerprint && key.fingerprint !== fingerprint)) continue;
    const certifications = request.certifications.map((row) => ({ userId: row.userId, certification: new Uint8Array(row.signature), revocation: row.revocation ? new Uint8Array(row.revocation) : null }));
    const earlier = byKey.get(key.fingerprint)?.certifications ?? [];
    byKey.set(key.fingerprint, { fingerprint: key.fingerprint, canonicalKey: new Uint8Array(key.canonicalKey), certifications: [...earlier, ...certifications] });
  }
  return [...byKey.values()];
}
