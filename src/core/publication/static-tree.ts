/**
 * The static export: the whole read side of publication as plain files any web server or CDN
 * can serve, with the same bytes the portal's routes answer (the same core functions make
 * them). The layout, which the nginx configuration in docs/publication.md maps URLs onto:
 *
 *   keyring.asc                      every published key, armored in one block
 *   pks/by-id/ID.asc                 op=get by fingerprint or 16-digit key ID (primary or subkey)
 *   pks/by-id/ID.index               op=index&options=mr for the same search
 *   pks/by-email/ADDRESS.asc|.index  the same by an address its owner agreed to publish
 *   status/v1/feed.json, feed.json.sig, publication-key.asc
 *   keys/FINGERPRINT.html            the key's status page (keys/index.html: the directory)
 *   public/…                         the stylesheet the pages link to
 *
 * IDs are written in upper and in lower case (GnuPG sends either; a web server cannot change
 * the case of a query). Keys sharing a key ID are in one file. Addresses are lower case, each
 * under its plain name (as GnuPG sends it) and URL-encoded (`dev%40example.org`, as other
 * clients send it): web servers do not unescape query strings.
 */
import { armorPublicKey } from "../key-policy.ts";
import { concatBytes } from "../key-policy/packets.ts";
import { machineReadableIndex, type IndexedKey } from "./hkp.ts";
import { publishedForm, type PublishedKeySource } from "./published-key.ts";

export interface ExportedKey {
  source: PublishedKeySource;
  /** The key IDs of the primary key and every subkey, upper case (`keyIdsOf`). */
  keyIds: readonly string[];
  /** What the index lists of the key (`indexedKey`). */
  indexed: IndexedKey;
}

export interface StaticTreeInput {
  /** Every published key, in the order lookups answer them. */
  keys: readonly ExportedKey[];
  /** The consented addresses (`publishedAddresses`). */
  addresses: ReadonlyArray<{ address: string; fingerprint: string }>;
  feed: { body: Uint8Array; signature: string; publicationKey: string };
  /** Rendered pages and static assets, by their path in the tree. */
  files: ReadonlyArray<{ path: string; bytes: Uint8Array }>;
  /** The clock the index's expiry flags are read against. */
  now: Date;
}

/** Paths (relative, "/"-separated) to bytes, sorted by path. One Uint8Array may appear under several paths. */
export type StaticTree = ReadonlyMap<string, Uint8Array>;

/** A name's bytes may appear under several paths: the same object, so a writer can link instead of copying. */
export function buildStaticTree(input: StaticTreeInput): StaticTree {
  const tree = new Map<string, Uint8Array>();
  const encoder = new TextEncoder();
  const forms = new Map(input.keys.map((key) => [key.source.fingerprint, publishedForm(key.source)]));
  // Most names find one key: its answer is made once and shared by every name (one file, linked).
  const answers = new Map<string, { armored: Uint8Array; index: Uint8Array }>();
  const answer = (base: string, keys: readonly ExportedKey[], names: readonly string[]) => {
    const group = keys.map((key) => key.source.fingerprint).join(" ");
    let made = answers.get(group);
    if (!made) {
      made = {
        armored: encoder.encode(armorPublicKey(concatBytes(keys.map((key) => forms.get(key.source.fingerprint) ?? new Uint8Array())))),
        index: encoder.encode(machineReadableIndex(keys.map((key) => key.indexed), input.now)),
      };
      answers.set(group, made);
    }
    for (const name of names) {
      tree.set(`${base}/${name}.asc`, made.armored);
      tree.set(`${base}/${name}.index`, made.index);
    }
  };

  for (const [id, keys] of groupBy(input.keys, (key) => [key.source.fingerprint, ...key.keyIds])) answer("pks/by-id", keys, [id, id.toLowerCase()]);
  const byFingerprint = new Map(input.keys.map((key) => [key.source.fingerprint, key]));
  const consented = input.addresses.filter((entry) => byFingerprint.has(entry.fingerprint));
  const byAddress = groupBy(consented, (entry) => [entry.address.toLowerCase()]);
  for (const [address, entries] of byAddress) {
    const fingerprints = new Set(entries.map((entry) => entry.fingerprint));
    // In lookup order, as the route answers an address.
    answer("pks/by-email", input.keys.filter((key) => fingerprints.has(key.source.fingerprint)), emailFileNames(address));
  }

  tree.set("keyring.asc", encoder.encode(armorPublicKey(concatBytes([...forms.values()]))));
  tree.set("status/v1/feed.json", input.feed.body);
  tree.set("status/v1/feed.json.sig", encoder.encode(input.feed.signature));
  tree.set("status/v1/publication-key.asc", encoder.encode(input.feed.publicationKey));
  for (const file of input.files) {
    if (!isSafeRelativePath(file.path)) throw new Error(`not a path inside the export: ${JSON.stringify(file.path)}`);
    tree.set(file.path, file.bytes);
  }
  return new Map([...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * The names an address's files go under: the plain address, as GnuPG sends it, when it is a
 * safe file name (no "/", no "%" that could read as an escape), and the URL-encoded form
 * (`dev%40example.org`) other clients send, which web servers do not unescape in a query.
 */
export function emailFileNames(address: string): string[] {
  const encoded = encodeURIComponent(address);
  const plain = /^[^/%.][^/%]*$/.test(address) ? [address] : [];
  return [...new Set([...plain, encoded])];
}

/** Relative, "/"-separated, no empty, "." or ".." segment. */
export function isSafeRelativePath(candidate: string): boolean {
  return candidate.length > 0 && candidate.split("/").every((segment) => segment !== "" && segment !== "." && segment !== ".." && !segment.includes("\\") && !segment.includes("\0"));
}

/** Groups items under every name `namesOf` gives, keeping the items' order within each group. */
function groupBy<T>(items: readonly T[], namesOf: (item: T) => readonly string[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    for (const name of new Set(namesOf(item))) {
      const group = groups.get(name);
      if (group) group.push(item);
      else groups.set(name, [item]);
    }
  }
  return groups;
}
