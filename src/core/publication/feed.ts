/**
 * The signed status feed: every certification the master key ever made, with its state, so an
 * install (or `keysign freepbx sync`) learns of revocations without a keyserver. Signed by the
 * portal's publication key over the exact bytes served. `sequence` only grows and `validUntil`
 * is two days after `generatedAt`, re-signed daily: a verifier can refuse a rolled-back or a
 * frozen feed.
 *
 * Entries name a user ID by its SHA-256, not its text: the feed lists every developer, and only
 * those who agree to it are listed by address; whoever holds a key can still match its user IDs.
 */
import { createHash } from "node:crypto";
import type { KeyState } from "./key-status.ts";

export const FEED_FORMAT = "keysign-status-feed";
export const FEED_VERSION = 1;
const DAY_MS = 86_400_000;
/** Re-signed once a day even without changes; each signature holds for two. */
export const FEED_RESIGN_AFTER_MS = DAY_MS;
export const FEED_VALID_FOR_MS = 2 * DAY_MS;

export interface FeedEntry {
  fingerprint: string;
  userIdSha256: string;
  certifiedAt: string;
  expiresAt: string | null;
  state: KeyState;
  revokedAt: string | null;
  /** The revocation's reason code (key_compromised, malicious_module, …), or null. */
  reason: string | null;
  /**
   * SHA-256 (hex) of the key's published form as served (the binary packets of
   * `/vks/v1/by-fingerprint/FPR`), or null when the key is not published. An install imports
   * exactly these bytes: a source cannot leave out the owner's revocation of a subkey or of the
   * key, nor add packets GnuPG would merge.
   */
  keySha256: string | null;
}

export interface Feed {
  format: typeof FEED_FORMAT;
  version: typeof FEED_VERSION;
  sequence: number;
  generatedAt: string;
  validUntil: string;
  publicationKey: string;
  entries: FeedEntry[];
}

export function userIdDigest(userId: string): string {
  return createHash("sha256").update(userId, "utf8").digest("hex");
}

/** Entries in a stable order, so the same certifications always give the same content hash. */
export function sortEntries(entries: readonly FeedEntry[]): FeedEntry[] {
  return [...entries].sort((a, b) => a.fingerprint.localeCompare(b.fingerprint) || a.certifiedAt.localeCompare(b.certifiedAt) || a.userIdSha256.localeCompare(b.userIdSha256));
}

export function contentDigest(entries: readonly FeedEntry[]): string {
  return createHash("sha256").update(JSON.stringify(entries)).digest("hex");
}

/** Whether the stored feed must be made anew: other content, or a signature a day old. */
export function feedIsStale(stored: { contentSha256: string; generatedAt: Date } | null, contentSha256: string, now: Date): boolean {
  return stored === null || stored.contentSha256 !== contentSha256 || now.getTime() - stored.generatedAt.getTime() >= FEED_RESIGN_AFTER_MS;
}

export function encodeFeed(feed: Feed): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(feed, null, 1)}\n`);
}
