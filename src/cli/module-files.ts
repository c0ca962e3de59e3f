/**
 * The file system side of the module tools: walking a module's tree (symlinks followed, each
 * real directory once, so a link loop ends), hashing files, and the keys and status feed a
 * check reads from files or a portal. The rules themselves are in core/module-sig.
 */
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { open, readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { MAX_KEY_BLOB_BYTES, type KeyBlob } from "../core/module-sig/keyring.ts";
import { FREEPBX_MASTERS, type FeedStanding } from "../core/module-sig/verify.ts";
import { MAX_FEED_BYTES, MAX_FEED_SIGNATURE_BYTES, parseFeed, verifyFeed } from "../core/publication/feed-verify.ts";
import { FeedRefusedError } from "../errors.ts";
import { fetchBounded, fetchBoundedOrMissing } from "./bounded-fetch.ts";
import { EXIT } from "./exit-codes.ts";
import { readPublicationKey, sourceUrl } from "./freepbx-sync.ts";
import { CommandError, usageError } from "./signer-errors.ts";

/** More files than any module has (FreePBX's largest ship a few thousand); a walk stops with a message beyond it. */
export const MAX_MODULE_FILES = 200_000;
/** An install's BMO directory holds five .key files; a directory with far more is not one. */
const MAX_KEY_FILES = 500;

export interface WalkedFile {
  /** Relative to the module's root, "/"-separated. */
  path: string;
}

/** Every file under `root`, following symlinks; unreadable directories are reported in `unreadable`. */
export async function walkModule(root: string): Promise<{ files: WalkedFile[]; unreadable: string[] }> {
  const files: WalkedFile[] = [];
  const unreadable: string[] = [];
  const visited = new Set<string>();
  const pending: string[] = [""];
  for (let relative = pending.pop(); relative !== undefined; relative = pending.pop()) {
    const absolute = path.join(root, relative);
    const real = await realpath(absolute).catch(() => null);
    if (real === null || visited.has(real)) continue;
    visited.add(real);
    const entries = await readdir(absolute, { withFileTypes: true }).catch(() => null);
    if (entries === null) {
      unreadable.push(relative === "" ? "." : `${relative}/`);
      continue;
    }
    for (const entry of entries) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      // Only a symlink needs a stat to learn what it points at; a broken one is listed as a file, which then cannot be read.
      const isDirectory = entry.isSymbolicLink() ? ((await stat(path.join(root, child)).catch(() => null))?.isDirectory() ?? false) : entry.isDirectory();
      if (isDirectory) pending.push(child);
      else files.push({ path: child });
      if (files.length > MAX_MODULE_FILES) throw new CommandError(EXIT.fileRefused, `${root} holds more than ${MAX_MODULE_FILES} files; is it really one module?`);
    }
  }
  return { files, unreadable };
}

/** Files below this are read whole, synchronously; larger ones are streamed. */
const READ_WHOLE_BELOW = 1024 * 1024;

/**
 * The SHA-256 in hex of each file, in order; null for one that is missing or cannot be read.
 * Small files are read synchronously on purpose: for a module's thousands of small files, the
 * round trips of asynchronous reads cost five times the hashing (measured: 10,000 files of 20 KiB,
 * 1.5 s asynchronous against 0.3 s synchronous), and a command has nothing else to do meanwhile.
 */
export async function sha256Files(files: readonly string[]): Promise<Array<string | null>> {
  const results: Array<string | null> = [];
  for (const file of files) {
    const small = hashSmallFile(file);
    results.push(small === "large" ? await hashLargeFile(file) : small);
  }
  return results;
}

function hashSmallFile(file: string): string | null | "large" {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) return null;
    if (info.size >= READ_WHOLE_BELOW) return "large";
    return createHash("sha256").update(readFileSync(fd)).digest("hex");
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

async function hashLargeFile(file: string): Promise<string | null> {
  const handle = await open(file, "r").catch(() => null);
  if (handle === null) return null;
  try {
    const hash = createHash("sha256");
    for await (const chunk of handle.createReadStream({ highWaterMark: 1024 * 1024, autoClose: false })) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

async function readBlob(file: string): Promise<KeyBlob> {
  const info = await stat(file).catch(() => null);
  if (info === null || !info.isFile()) throw usageError(`cannot read the key file ${file}`);
  if (info.size > MAX_KEY_BLOB_BYTES) return { source: file, bytes: new Uint8Array(MAX_KEY_BLOB_BYTES + 1) };
  return { source: file, bytes: new Uint8Array(await readFile(file)) };
}

/** `<ID>.key` files of a directory (an install's admin/libraries/BMO) and keyring files. */
export async function localKeyBlobs(keysDir: string | undefined, keyrings: readonly string[]): Promise<KeyBlob[]> {
  const blobs: KeyBlob[] = [];
  if (keysDir !== undefined) {
    const names = await readdir(keysDir).catch(() => {
      throw usageError(`cannot read the keys directory ${keysDir}`);
    });
    const keyFiles = names.filter((name) => name.endsWith(".key")).sort();
    if (keyFiles.length === 0) throw usageError(`${keysDir} holds no <ID>.key files (an install keeps them in admin/libraries/BMO)`);
    if (keyFiles.length > MAX_KEY_FILES) throw usageError(`${keysDir} holds more than ${MAX_KEY_FILES} .key files`);
    for (const name of keyFiles) blobs.push(await readBlob(path.join(keysDir, name)));
  }
  for (const file of keyrings) blobs.push(await readBlob(file));
  return blobs;
}

/** A published key by fingerprint or key ID from the portal's HKP interface; null when it has none. */
export async function portalKeyBlob(portal: URL, id: string): Promise<KeyBlob | null> {
  const url = new URL(`pks/lookup?op=get&options=mr&search=0x${id}`, portal);
  const bytes = await fetchBoundedOrMissing(url, MAX_KEY_BLOB_BYTES, undefined, "--portal");
  return bytes === null ? null : { source: url.href, bytes };
}

export function portalUrl(given: string): URL {
  return sourceUrl(given, "--portal");
}

/** FreePBX's masters and each --master, checked to be full fingerprints. */
export function masterList(given: readonly string[]): string[] {
  const extra = given.map((fingerprint) => fingerprint.replace(/\s+/g, "").toUpperCase());
  const bad = extra.find((fingerprint) => !/^[0-9A-F]{40}$/.test(fingerprint));
  if (bad !== undefined) throw usageError(`--master ${bad} is not a full fingerprint (40 hex digits)`);
  return [...new Set([...FREEPBX_MASTERS, ...extra])];
}

/** The status feed from a URL (feed.json, with feed.json.sig beside it) or a file (FILE and FILE.sig), checked. */
export async function readFeed(where: string, publicationKeyFile: string | undefined, now: Date): Promise<FeedStanding> {
  if (publicationKeyFile === undefined) throw usageError("--feed needs --publication-key FILE: the portal's publication-key.asc, saved once and checked");
  const publicationKey = await readPublicationKey(publicationKeyFile);
  const { body, signature } = /^https?:\/\//.test(where) ? await fetchFeedFiles(where) : await readFeedFiles(where);
  try {
    return { feed: await verifyFeed({ body, signature, publicationKey, lastSequence: null, now }), stale: false };
  } catch (error) {
    if (!(error instanceof FeedRefusedError)) throw error;
    // Stale means every other check passed (they come first): keep it, and say how old it is.
    if (error.refusal === "stale") return { feed: parseFeed(body), stale: true };
    throw new CommandError(EXIT.fileRefused, `the status feed was refused (${error.code}): ${error.message}`);
  }
}

async function fetchFeedFiles(where: string): Promise<{ body: Uint8Array; signature: string }> {
  const url = new URL(where);
  if (url.username || url.password) throw usageError("--feed must not hold a user name or password");
  const body = await fetchBounded(url, MAX_FEED_BYTES, undefined, "--feed");
  const signature = await fetchBounded(new URL(`${url.pathname}.sig`, url), MAX_FEED_SIGNATURE_BYTES, undefined, "--feed");
  return { body, signature: Buffer.from(signature).toString("utf8") };
}

async function readFeedFiles(file: string): Promise<{ body: Uint8Array; signature: string }> {
  const read = async (name: string, max: number) => {
    const info = await stat(name).catch(() => null);
    if (info === null || !info.isFile()) throw usageError(`cannot read ${name} (--feed FILE needs FILE and FILE.sig beside it)`);
    if (info.size > max) throw new CommandError(EXIT.fileRefused, `${name} is larger than ${max} bytes, more than a status feed may be`);
    return new Uint8Array(await readFile(name));
  };
  return { body: await read(file, MAX_FEED_BYTES), signature: Buffer.from(await read(`${file}.sig`, MAX_FEED_SIGNATURE_BYTES)).toString("utf8") };
}
