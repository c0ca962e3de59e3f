/**
 * Keeps the signed status feed current: made anew when the certifications change or the last
 * signature is a day old, stored with its signature so every reader gets the same bytes, and
 * made one at a time (the stored sequence guards against a second process).
 */
import { certificationExpiry, certificationState } from "../core/publication/key-status.ts";
import { contentDigest, encodeFeed, FEED_FORMAT, FEED_VALID_FOR_MS, FEED_VERSION, feedIsStale, sortEntries, userIdDigest, type FeedEntry } from "../core/publication/feed.ts";
import { signDetached } from "../core/transfer/envelope.ts";
import { findCertificationRecords, findStatusFeed, storeStatusFeed } from "../repositories/publication.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import type { ServiceContext } from "./context.ts";
import { Serial } from "./serial.ts";

export interface SignedFeed {
  body: Uint8Array;
  signature: string;
  sequence: number;
}

type CertificationRow = Awaited<ReturnType<typeof findCertificationRecords>>[number];

export class StatusFeedService {
  private readonly serial = new Serial();

  constructor(
    private readonly ctx: ServiceContext,
    readonly key: QueueKey,
  ) {}

  /** The feed, made anew first when it is stale. */
  current(): Promise<SignedFeed> {
    return this.serial.run(() => this.refresh());
  }

  /**
   * The feed as last stored, without remaking it: a verifier fetches `feed.json`, then its
   * signature, and a remake between the two would pair the body with another signature.
   */
  async stored(): Promise<SignedFeed> {
    const row = await findStatusFeed(this.ctx.db);
    return row ? signedFeed(row) : this.current();
  }

  private async refresh(): Promise<SignedFeed> {
    const { db } = this.ctx;
    const now = this.ctx.now();
    const entries = sortEntries((await findCertificationRecords(db)).map((row) => entryOf(row, now)));
    const contentSha256 = contentDigest(entries);
    const stored = await findStatusFeed(db);
    if (stored && !feedIsStale(stored, contentSha256, now)) return signedFeed(stored);
    const sequence = (stored?.sequence ?? 0) + 1;
    const validUntil = new Date(now.getTime() + FEED_VALID_FOR_MS);
    const body = encodeFeed({ format: FEED_FORMAT, version: FEED_VERSION, sequence, generatedAt: now.toISOString(), validUntil: validUntil.toISOString(), publicationKey: this.key.fingerprint, entries });
    const signature = await signDetached(body, this.key.privateKey, now);
    if (await storeStatusFeed(db, stored?.sequence ?? 0, { sequence, contentSha256, generatedAt: now, validUntil, body, signature })) return { body, signature, sequence };
    // Another process made it first: serve what it stored.
    const winner = await findStatusFeed(db);
    return winner ? signedFeed(winner) : { body, signature, sequence };
  }
}

function signedFeed(row: { body: Uint8Array; signature: string; sequence: number }): SignedFeed {
  return { body: new Uint8Array(row.body), signature: row.signature, sequence: row.sequence };
}

function entryOf(row: CertificationRow, now: Date): FeedEntry {
  const expiresAt = certificationExpiry(row.signature);
  return {
    fingerprint: row.fingerprint,
    userIdSha256: userIdDigest(row.userId),
    certifiedAt: row.certifiedAt.toISOString(),
    expiresAt: expiresAt?.toISOString() ?? null,
    state: certificationState(row.revokedAt, expiresAt, now),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    reason: row.revocationReason,
  };
}
