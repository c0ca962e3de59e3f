/**
 * The public directory's entries, kept in memory. Making them reads every published choice and
 * every certification and checks every user ID (about 0.6 ms per listed key), and `/keys` is
 * public and not rate limited: made per request, anyone could hold the portal with it. The
 * entries are emptied by every publication signal of this process (a consent taken back is
 * gone from the next answer) and are made again after `ttlMs` of the portal's clock, so a
 * change by another process, or a certification's expiry, shows within that time.
 */
import { searchDirectory, type DirectoryEntry } from "../core/publication/directory.ts";
import type { Db } from "../db/client.ts";
import { publishedDirectory } from "./publication.ts";

export const DIRECTORY_TTL_MS = 10_000;

export class DirectoryCache {
  private kept: { entries: Promise<DirectoryEntry[]>; madeAt: number } | null = null;

  constructor(
    private readonly db: Db,
    private readonly now: () => Date,
    private readonly ttlMs = DIRECTORY_TTL_MS,
  ) {}

  /** Forgets the entries: the published keys or the owners' choices changed. */
  clear(): void {
    this.kept = null;
  }

  /** The listed keys `query` finds (all of them when it is empty). */
  async search(query: string): Promise<DirectoryEntry[]> {
    return searchDirectory(await this.entries(), query);
  }

  /** Shared by concurrent requests; `clear` drops one being made, so it answers those but is not kept. */
  private entries(): Promise<DirectoryEntry[]> {
    const now = this.now();
    const kept = this.kept;
    if (kept && now.getTime() >= kept.madeAt && now.getTime() - kept.madeAt < this.ttlMs) return kept.entries;
    const made = { entries: publishedDirectory(this.db, now), madeAt: now.getTime() };
    this.kept = made;
    made.entries.catch(() => {
      if (this.kept === made) this.kept = null;
    });
    return made.entries;
  }
}
