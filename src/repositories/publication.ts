import type { Db } from "../db/client.ts";
import type { CertificationRecord } from "../core/publication/key-status.ts";
import type { PublishedKeySource } from "../core/publication/published-key.ts";
import { unionCanonical } from "../core/publication/canonical-union.ts";
import { updatedKeys } from "./key-updates.ts";

const PUBLISHED_STATES = ["certified", "revoked"];

/**
 * Every published key (a request certified it, whatever happened since), or only the one with
 * `fingerprint`, grouped by key: the newest request's canonical copy and every certification.
 * When the owner sent updates, the canonical copy is the union of the newest request's copy
 * and the updates' (docs/publication.md, "Owner updates"): a renewal request keeps what
 * updates published, and an update keeps what the renewal certified.
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
  const updated = await updatedKeys(db, fingerprint);
  return [...byKey.values()].map((source) => {
    const updates = updated.get(source.fingerprint) ?? [];
    return { ...source, canonicalKey: updates.reduce(unionCanonical, source.canonicalKey) };
  });
}

/**
 * The master certifications the portal made (of one key, or of all), each with the fingerprint
 * of the key it certified and the reason code of the revocation that revoked it: what the
 * key's status page and the status feed show. Nothing about the owner is read.
 */
export async function findCertificationRecords(db: Db, fingerprint?: string): Promise<Array<CertificationRecord & { fingerprint: string }>> {
  const rows = await db.certification.findMany({
    ...(fingerprint ? { where: { request: { keys: { some: { fingerprint } } } } } : {}),
    orderBy: { certifiedAt: "desc" },
    select: {
      userId: true,
      certifiedAt: true,
      signature: true,
      revokedAt: true,
      request: { select: { keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } }, revocations: { where: { state: "applied" }, orderBy: { appliedAt: "desc" }, take: 1, select: { reasonCode: true } } } },
    },
  });
  // A certification belongs to the key of its request's newest revision, as the published form does.
  return rows.flatMap((row) => {
    const certified = row.request.keys[0]?.fingerprint;
    if (!certified || (fingerprint && certified !== fingerprint)) return [];
    const revocationReason = row.revokedAt ? (row.request.revocations[0]?.reasonCode ?? null) : null;
    return [{ fingerprint: certified, userId: row.userId, certifiedAt: row.certifiedAt, signature: new Uint8Array(row.signature), revokedAt: row.revokedAt, revocationReason }];
  });
}

/**
 * The user IDs owners agreed to publish, per published key: each request's choice, kept only
 * for user IDs that request certified. A key several requests certified gets the union.
 */
export async function findPublishedUserIds(db: Db): Promise<Array<{ fingerprint: string; userIds: string[] }>> {
  const requests = await db.request.findMany({
    where: { state: { in: PUBLISHED_STATES }, certifications: { some: {} }, NOT: { publishedUserIds: "[]" } },
    orderBy: { createdAt: "asc" },
    select: { publishedUserIds: true, keys: { orderBy: { revision: "desc" }, take: 1, select: { fingerprint: true } }, certifications: { select: { userId: true } } },
  });
  const byKey = new Map<string, Set<string>>();
  for (const request of requests) {
    const fingerprint = request.keys[0]?.fingerprint;
    if (!fingerprint) continue;
    const certified = new Set(request.certifications.map((row) => row.userId));
    const chosen = parseUserIdList(request.publishedUserIds).filter((userId) => certified.has(userId));
    const userIds = byKey.get(fingerprint) ?? new Set<string>();
    for (const userId of chosen) userIds.add(userId);
    if (userIds.size > 0) byKey.set(fingerprint, userIds);
  }
  return [...byKey].map(([fingerprint, userIds]) => ({ fingerprint, userIds: [...userIds] }));
}

/** A stored JSON list of user IDs; anything else reads as none. */
export function parseUserIdList(stored: string): string[] {
  const parsed: unknown = JSON.parse(stored);
  return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === "string") : [];
}

export async function findStatusFeed(db: Db) {
  return db.statusFeed.findUnique({ where: { id: 1 } });
}

/** Stores a new feed only if the stored one is still `previousSequence` (0: none), so two makers cannot both win. */
export async function storeStatusFeed(db: Db, previousSequence: number, feed: { sequence: number; contentSha256: string; generatedAt: Date; validUntil: Date; body: Uint8Array; signature: string }): Promise<boolean> {
  if (previousSequence === 0) {
    try {
      await db.statusFeed.create({ data: { id: 1, ...feed, body: Buffer.from(feed.body) } });
      return true;
    } catch (error) {
      // P2002: another process stored the first feed meanwhile.
      if (error instanceof Error && "code" in error && error.code === "P2002") return false;
      throw error;
    }
  }
  const updated = await db.statusFeed.updateMany({ where: { id: 1, sequence: previousSequence }, data: { ...feed, body: Buffer.from(feed.body) } });
  return updated.count === 1;
}
