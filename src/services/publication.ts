/**
 * The read side of publication: which published keys a lookup names, as installs fetch them.
 * Key IDs are computed from the canonical keys (one parse per published key); the HKP routes
 * read them once per publication change through `lookupNames` and the lookup cache.
 */
import { armorPublicKey } from "../core/key-policy.ts";
import { concatBytes } from "../core/key-policy/packets.ts";
import type { HkpSearch, IndexedKey } from "../core/publication/hkp.ts";
import { isRevokedByOwner } from "../core/publication/canonical-union.ts";
import { keyIdsOf, publishedForm, type PublishedKeySource } from "../core/publication/published-key.ts";
import type { Db } from "../db/client.ts";
import { checkUserId } from "../core/key-policy/user-id.ts";
import { keyIndexFacts } from "../core/publication/key-facts.ts";
import { directoryEntries, type DirectoryEntry } from "../core/publication/directory.ts";
import { findCertificationRecords, findPublishedKeys, findPublishedUserIds } from "../repositories/publication.ts";

/**
 * The published keys a search names, in lookup order, each read fresh: by fingerprint
 * directly, otherwise through `names` (what `lookupNames` returns; the HKP routes keep it
 * between publication changes, a one-off check reads it anew).
 */
export async function lookupPublishedKeys(db: Db, search: HkpSearch, names?: ReadonlyMap<string, string[]>): Promise<PublishedKeySource[]> {
  if (search.kind === "fingerprint") return findPublishedKeys(db, search.value);
  const fingerprints = (names ?? (await lookupNames(db))).get(`${search.kind}:${search.value}`) ?? [];
  return (await Promise.all(fingerprints.map((fingerprint) => findPublishedKeys(db, fingerprint)))).flat();
}

/**
 * Which published keys each key ID (primary or subkey) and each consented address names, as
 * `keyId:ID` and `email:ADDRESS`, the fingerprints in lookup order: one read of every published
 * key, which the lookup cache keeps so that a lookup that finds nothing costs no such read.
 */
export async function lookupNames(db: Db): Promise<Map<string, string[]>> {
  const keys = await findPublishedKeys(db);
  const position = new Map(keys.map((key, index) => [key.fingerprint, index]));
  const names = new Map<string, string[]>();
  const add = (name: string, fingerprint: string) => {
    const list = names.get(name) ?? [];
    if (!list.includes(fingerprint)) names.set(name, [...list, fingerprint]);
  };
  for (const key of keys) for (const id of await keyIdsOf(key.canonicalKey)) add(`keyId:${id}`, key.fingerprint);
  for (const { address, fingerprint } of await publishedAddresses(db)) if (position.has(fingerprint)) add(`email:${address}`, fingerprint);
  for (const list of names.values()) list.sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
  return names;
}

/**
 * Every address an owner agreed to publish, with the fingerprint of the certified key it
 * finds: what the directory lists and what lookups by email answer.
 */
export async function publishedAddresses(db: Db): Promise<Array<{ address: string; fingerprint: string }>> {
  const found = new Map<string, { address: string; fingerprint: string }>();
  for (const { fingerprint, userIds } of await findPublishedUserIds(db)) {
    for (const userId of userIds) {
      const address = addressOf(userId);
      if (address) found.set(`${address} ${fingerprint}`, { address, fingerprint });
    }
  }
  return [...found.values()];
}

/** The lower-cased address of a user ID the key policy accepted, or null for a name alone. */
export function addressOf(userId: string): string | null {
  const check = checkUserId(new TextEncoder().encode(userId));
  return check.ok ? check.facts.email : null;
}

/** The armored published forms, one after another in one block, as GnuPG imports them. */
export function armoredKeys(keys: readonly PublishedKeySource[]): string {
  return armorPublicKey(concatBytes(keys.map(publishedForm)));
}

/** What the index lists of each key: its facts, and only the user IDs its owner agreed to publish. */
export async function indexedKeys(db: Db, sources: readonly PublishedKeySource[]): Promise<IndexedKey[]> {
  const published = new Map((await findPublishedUserIds(db)).map((entry) => [entry.fingerprint, entry.userIds]));
  return Promise.all(sources.map((source) => indexedKey(source, published.get(source.fingerprint) ?? [])));
}

/** Every entry of the public directory: the keys listed with the user IDs their owners published. */
export async function publishedDirectory(db: Db, now: Date): Promise<DirectoryEntry[]> {
  return directoryEntries(await findPublishedUserIds(db), await findCertificationRecords(db), now);
}

/** What the index lists of one key, with the user IDs its owner agreed to publish. */
export async function indexedKey(source: PublishedKeySource, userIds: readonly string[]): Promise<IndexedKey> {
  return { fingerprint: source.fingerprint, ...(await keyIndexFacts(source.canonicalKey)), userIds, revoked: isRevokedByOwner(source.canonicalKey) };
}
