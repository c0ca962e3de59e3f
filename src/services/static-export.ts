/**
 * The static export (`keysign publish export DIR`, and PUBLISH_DIR): gathers what the read
 * side publishes, builds the tree with the same core functions the routes use, and writes it
 * atomically. Pages are rendered by the portal's own routes, so they are the bytes it serves.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { FastifyBaseLogger } from "fastify";
import { buildStaticTree, type ExportedKey, type StaticTree } from "../core/publication/static-tree.ts";
import { keyStatus, type KeyStatus } from "../core/publication/key-status.ts";
import { keyIdsOf, type PublishedKeySource } from "../core/publication/published-key.ts";
import type { Db } from "../db/client.ts";
import { PUBLIC_DIR } from "../plugins/external/static.ts";
import { findCertificationRecords, findPublishedKeys, findPublishedUserIds } from "../repositories/publication.ts";
import { replaceExportDir, type ExportWritten } from "../storage/export-dir.ts";
import { indexedKey, publishedAddresses } from "./publication.ts";
import type { SignedFeed } from "./status-feed.ts";

/** The assets the pages link to (`/public/css/…`); the agreement template is not part of publication. */
const ASSET_DIRS = ["css"];

export interface ExportSources {
  db: Db;
  now: () => Date;
  /** The status feed as served, made anew first when stale. */
  feed: () => Promise<SignedFeed>;
  publicationKey: string;
  /** One of the portal's own pages as it is served (a GET through the app). */
  render: (url: string) => Promise<{ statusCode: number; body: Uint8Array }>;
  /**
   * The page `GET /keys/FINGERPRINT` serves, from the status read for every key at once: a
   * request through the app per key reads the database once per key, too slow for thousands.
   */
  renderKeyStatus: (fingerprint: string, status: KeyStatus) => Promise<Uint8Array>;
}

/**
 * What the export derives from a canonical key (its key IDs, its index facts: a parse and a
 * signature check, about a millisecond), kept by the key's SHA-256 so that the export after a
 * change redoes only the keys that changed.
 */
const derived = new Map<string, { keyIds: string[]; indexed: ExportedKey["indexed"] }>();
const MAX_DERIVED = 100_000;

async function exportedKey(source: PublishedKeySource, userIds: readonly string[]): Promise<ExportedKey> {
  const digest = createHash("sha256").update(source.canonicalKey).digest("hex");
  let facts = derived.get(digest);
  if (!facts) {
    facts = { keyIds: await keyIdsOf(source.canonicalKey), indexed: await indexedKey(source, []) };
    if (derived.size >= MAX_DERIVED) derived.clear();
    derived.set(digest, facts);
  }
  // The fingerprint is the key's, whatever another key with the same bytes was stored as; the
  // user IDs listed are the owner's current choice, which the key's bytes do not hold.
  return { source, keyIds: facts.keyIds, indexed: { ...facts.indexed, fingerprint: source.fingerprint, userIds } };
}

/** Everything the static export holds, as paths to bytes. */
export async function gatherStaticTree(sources: ExportSources): Promise<StaticTree> {
  const now = sources.now();
  const keys: ExportedKey[] = [];
  const published = new Map((await findPublishedUserIds(sources.db)).map((entry) => [entry.fingerprint, entry.userIds]));
  for (const source of await findPublishedKeys(sources.db)) keys.push(await exportedKey(source, published.get(source.fingerprint) ?? []));
  const feed = await sources.feed();
  const files = [...(await renderPages(sources, keys, now)), ...(await readAssets())];
  return buildStaticTree({
    keys,
    addresses: await publishedAddresses(sources.db),
    feed: { body: feed.body, signature: feed.signature, publicationKey: sources.publicationKey },
    files,
    now,
  });
}

/** Builds the tree and swaps DIR over to it. */
export async function exportStatic(sources: ExportSources, dir: string): Promise<ExportWritten> {
  return replaceExportDir(dir, await gatherStaticTree(sources));
}

async function renderPages(sources: ExportSources, keys: readonly ExportedKey[], now: Date): Promise<Array<{ path: string; bytes: Uint8Array }>> {
  const pages: Array<{ path: string; bytes: Uint8Array }> = [];
  // The directory page, where the portal has one.
  const directory = await sources.render("/keys");
  if (directory.statusCode === 200) pages.push({ path: "keys/index.html", bytes: directory.body });
  const records = new Map<string, Awaited<ReturnType<typeof findCertificationRecords>>>();
  for (const record of await findCertificationRecords(sources.db)) records.set(record.fingerprint, [...(records.get(record.fingerprint) ?? []), record]);
  for (const { source } of keys) {
    const status = keyStatus(records.get(source.fingerprint) ?? [], now);
    if (status === null) throw new Error(`no certification of ${source.fingerprint} was found for its status page`);
    pages.push({ path: `keys/${source.fingerprint}.html`, bytes: await sources.renderKeyStatus(source.fingerprint, status) });
  }
  return pages;
}

async function readAssets(): Promise<Array<{ path: string; bytes: Uint8Array }>> {
  const assets: Array<{ path: string; bytes: Uint8Array }> = [];
  for (const dir of ASSET_DIRS) {
    for (const name of (await readdir(path.join(PUBLIC_DIR, dir))).sort()) {
      assets.push({ path: `public/${dir}/${name}`, bytes: new Uint8Array(await readFile(path.join(PUBLIC_DIR, dir, name))) });
    }
  }
  return assets;
}

/**
 * Rewrites the export after every publication change (PUBLISH_DIR): a burst of signals makes
 * one more export after the running one, never two at once. A failure is logged and the next
 * signal tries again.
 */
export class StaticExportScheduler {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly write: () => Promise<ExportWritten>,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Asks for an export; resolves when one that started after this call has finished. */
  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Waits for the export under way, if any (at close). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const written = await this.write();
        this.log.info({ version: written.version, files: written.files }, "static export written");
      } catch (error) {
        // The message names a path or a status, never key material.
        this.log.error({ error: error instanceof Error ? `${error.name}: ${error.message}` : "unknown error" }, "static export failed; the next publication change retries it");
      }
    } while (this.again);
  }
}
