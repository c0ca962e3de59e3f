/**
 * Keeps the signed status feed current: made anew when the certifications change or the last
 * signature is a day old, stored with its signature so every reader gets the same bytes, and
 * made one at a time (the stored sequence guards against a second process).
 */
import { createHash } from "node:crypto";
import { publishedForm } from "../core/publication/published-key.ts";
import type { Db } from "../db/client.ts";
import { certificationExpiry, certificationState } from "../core/publication/key-status.ts";
import { contentDigest, encodeFeed, FEED_FORMAT, FEED_RESIGN_AFTER_MS, FEED_VALID_FOR_MS, FEED_VERSION, feedIsStale, sortEntries, userIdDigest, type FeedEntry } from "../core/publication/feed.ts";
import { signDetached } from "../core/transfer/envelope.ts";
import { findCertificationRecords, findPublishedKeys, findStatusFeed, storeStatusFeed } from "../repositories/publication.ts";
import type { QueueKey } from "../storage/queue-key.ts";
import type { ServiceContext } from "./context.ts";
import { Serial } from "./serial.ts";

export interface SignedFeed {
  body: Uint8Array;
  signature: string;
  sequence: number;
}

type CertificationRow = Awaited<ReturnType<typeof findCertificationRecords>>[number];

/**
 * How long a feed found current is served without reading every certification again. Each
 * check reads and parses them all (about a millisecond per certification), one at a time, and
 * `feed.json` is public: a check per request would let anyone hold the portal. A publication
 * signal of this process ends it at once; a change by another process shows within this time.
 */
export const FEED_CHECK_TTL_MS = 10_000;

export class StatusFeedService {
  private readonly serial = new Serial();
  private checked: { feed: SignedFeed; checkedAt: number; generatedAt: number } | null = null;
  private generation = 0;

  constructor(
    private readonly ctx: ServiceContext,
    readonly key: QueueKey,
  ) {}

  /** The feed, made anew first when it is stale. */
  current(): Promise<SignedFeed> {
    const remembered = this.remembered();
    return remembered ? Promise.resolve(remembered) : this.serial.run(() => this.refresh());
  }

  /** The feed last found current, while that check is recent and its signature is not due for renewal. */
  private remembered(): SignedFeed | null {
    const checked = this.checked;
    const now = this.ctx.now().getTime();
    if (checked === null || now < checked.checkedAt || now - checked.checkedAt >= FEED_CHECK_TTL_MS) return null;
    return now - checked.generatedAt < FEED_RESIGN_AFTER_MS ? checked.feed : null;
  }

  /** The certifications changed: the next request checks the feed again. */
  invalidate(): void {
    this.checked = null;
    this.generation++;
  }

  /**
   * The feed as last stored, without remaking it: a verifier fetches `feed.json`, then its
   * signature, and a remake between the two would pair the body with another signature.
   */
  async stored(): Promise<SignedFeed> {
    // The signature of the body `current` answers from memory, even if another process stored a newer one.
    const remembered = this.remembered();
    if (remembered) return remembered;
    const row = await findStatusFeed(this.ctx.db);
    return row ? signedFeed(row) : this.current();
  }

  private async refresh(): Promise<SignedFeed> {
    const generation = this.generation;
    const checkedAt = this.ctx.now();
    const { feed, generatedAt } = await this.check();
    // A change signalled during the check may have come after its read: answer, but do not keep it.
    if (generation === this.generation) this.checked = { feed, checkedAt: checkedAt.getTime(), generatedAt: generatedAt.getTime() };
    return feed;
  }

  private async check(): Promise<{ feed: SignedFeed; generatedAt: Date }> {
    const { db } = this.ctx;
    const now = this.ctx.now();
    const published = await publishedDigests(db);
    const entries = sortEntries((await findCertificationRecords(db)).map((row) => entryOf(row, now, published.get(row.fingerprint) ?? null)));
    const contentSha256 = contentDigest(entries);
    const stored = await findStatusFeed(db);
    if (stored && !feedIsStale(stored, contentSha256, now)) return { feed: signedFeed(stored), generatedAt: stored.generatedAt };
    const sequence = (stored?.sequence ?? 0) + 1;
    const validUntil = new Date(now.getTime() + FEED_VALID_FOR_MS);
    const body = encodeFeed({ format: FEED_FORMAT, version: FEED_VERSION, sequence, generatedAt: now.toISOString(), validUntil: validUntil.toISOString(), publicationKey: this.key.fingerprint, entries });
    const signature = await signDetached(body, this.key.privateKey, now);
    if (await storeStatusFeed(db, stored?.sequence ?? 0, { sequence, contentSha256, generatedAt: now, validUntil, body, signature })) return { feed: { body, signature, sequence }, generatedAt: now };
    // Another process made it first: serve what it stored.
    const winner = await findStatusFeed(db);
    return winner ? { feed: signedFeed(winner), generatedAt: winner.generatedAt } : { feed: { body, signature, sequence }, generatedAt: now };
  }
}

function signedFeed(row: { body: Uint8Array; signature: string; sequence: number }): SignedFeed {
  return { body: new Uint8Array(row.body), signature: row.signature, sequence: row.sequence };
}

/** SHA-256 of each published key's published form, the bytes installs fetch. */
async function publishedDigests(db: Db): Promise<Map<string, string>> {
  return new Map((await findPublishedKeys(db)).map((source) => [source.fingerprint, createHash("sha256").update(publishedForm(source)).digest("hex")]));
}

function entryOf(row: CertificationRow, now: Date, keySha256: string | null): FeedEntry {
  const expiresAt = certificationExpiry(row.signature);
  return {
    fingerprint: row.fingerprint,
    userIdSha256: userIdDigest(row.userId),
    certifiedAt: row.certifiedAt.toISOString(),
    expiresAt: expiresAt?.toISOString() ?? null,
    state: certificationState(row.revokedAt, expiresAt, now),
    revokedAt: row.revokedAt?.toISOString() ?? null,
    reason: row.revocationReason,
    keySha256,
  };
}
