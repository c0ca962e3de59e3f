/**
 * The armored answers to `op=get` and VKS lookups, kept in memory. Making one reads the
 * database (several queries; by key ID, every published key is parsed), and a popular key is
 * fetched by many installs at once. The cache is emptied by every publication signal of this
 * process, and an entry also expires after `ttlMs`, so a change made by another process on the
 * same database is served within that time. Only found answers are kept: a key published a
 * moment ago is never hidden by an earlier "not found".
 *
 * Which keys a key ID or an address names is read once for all such lookups (the same signal
 * and time to live): answering each from the database meant reading and parsing every
 * published key, so anyone could hold the event loop with lookups that find nothing. So a
 * key ID or address published by another process is found within the time to live; by this
 * process, at once.
 */
import type { HkpSearch } from "../core/publication/hkp.ts";
import type { Db } from "../db/client.ts";
import type { PublishedKeySource } from "../core/publication/published-key.ts";
import { armoredKeys, lookupNames, lookupPublishedKeys } from "./publication.ts";

export const CACHE_TTL_MS = 10_000;
/** Bounds the memory: found answers only, so this many is far more than a portal publishes. */
const MAX_ENTRIES = 20_000;

export class PublishedKeyCache {
  private readonly entries = new Map<string, { armored: string; storedAt: number }>();
  private generation = 0;
  private names: { index: Promise<Map<string, string[]>>; storedAt: number } | null = null;

  constructor(
    private readonly db: Db,
    private readonly ttlMs = CACHE_TTL_MS,
  ) {}

  /** Forgets every answer: the published keys changed. */
  clear(): void {
    this.entries.clear();
    this.names = null;
    this.generation++;
  }

  /** The armored published forms the search names, or null when none is published. */
  async armored(search: HkpSearch): Promise<string | null> {
    const name = `${search.kind}:${search.value}`;
    const hit = this.entries.get(name);
    // A monotonic clock: expiry is about this process's memory, not the portal's time.
    if (hit && performance.now() - hit.storedAt < this.ttlMs) return hit.armored;
    const generation = this.generation;
    const keys = await this.lookup(search);
    if (keys.length === 0) return null;
    const armored = armoredKeys(keys);
    // A change signalled while the database was read may have come after the read: answer, but do not keep it.
    if (generation === this.generation) this.keep(name, armored);
    return armored;
  }

  /** The published keys a search names, in lookup order, each read fresh from the database. */
  async lookup(search: HkpSearch): Promise<PublishedKeySource[]> {
    return lookupPublishedKeys(this.db, search, search.kind === "fingerprint" ? undefined : await this.nameIndex());
  }

  /** Shared by concurrent lookups; `clear` drops it, so one read while a signal came in is not kept. */
  private nameIndex(): Promise<Map<string, string[]>> {
    if (this.names && performance.now() - this.names.storedAt < this.ttlMs) return this.names.index;
    const index = lookupNames(this.db);
    const names = { index, storedAt: performance.now() };
    this.names = names;
    index.catch(() => {
      if (this.names === names) this.names = null;
    });
    return index;
  }

  private keep(name: string, armored: string): void {
    this.entries.delete(name);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(name, { armored, storedAt: performance.now() });
  }
}
