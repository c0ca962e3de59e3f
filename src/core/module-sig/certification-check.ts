/**
 * Before signing a module: will installs trust this key? A module signed by a key without a
 * valid, direct certification by a master is "signed by an invalid key" on every install, so
 * `keysign module sign` warns. The portal's status feed decides when given; otherwise the key's
 * own certifications, verified with the masters' keys when those are at hand.
 */
import type { PublicKey } from "openpgp";
import { primaryStanding } from "./keyring.ts";
import { trustOf, validMasters } from "./trust.ts";
import type { FeedStanding } from "./verify.ts";

export interface CertificationCheck {
  /** A warning for the developer, or null when installs will trust the key. */
  warning: string | null;
  /** What was checked, for the summary. */
  basis: string;
}

export async function checkCertification(key: PublicKey, others: readonly PublicKey[], masters: readonly string[], feed: FeedStanding | null, now: Date): Promise<CertificationCheck> {
  const fingerprint = key.getFingerprint().toUpperCase();
  const invalid = "installs would show the module as signed by an invalid key";
  if (feed !== null) return fromFeed(feed, fingerprint, invalid, now);
  const keys = [key, ...others.filter((other) => other.getFingerprint() !== key.getFingerprint())];
  const present = await validMasters(keys, masters, now);
  if (present.length > 0) {
    const trust = await trustOf(key, await primaryStanding(key, now), keys, present, now);
    if (trust.level === "full" || trust.level === "ultimate") return { warning: null, basis: "the key's certification, verified with the master's key" };
    return { warning: `key ${fingerprint} has no valid certification by a master key; ${invalid}. Have it certified, or check that the certification was not revoked or expired`, basis: "the key's certifications, verified with the master's key" };
  }
  const claimed = claimedByMaster(key, masters);
  if (claimed) return { warning: null, basis: `the key's certification by ${claimed} (not verified: give the master's public key with --keyring to check it)` };
  return { warning: `key ${fingerprint} carries no certification by a master key; ${invalid}. Get it certified (and fetch it with its certification) before publishing the module`, basis: "the key's own certifications" };
}

function fromFeed(feed: FeedStanding, fingerprint: string, invalid: string, now: Date): CertificationCheck {
  const basis = `the portal's status feed (sequence ${feed.feed.sequence})`;
  if (feed.stale) return { warning: `the portal's status feed is stale since ${feed.feed.validUntil}; fetch a current one to know whether the key is still certified`, basis };
  const entries = feed.feed.entries.filter((entry) => entry.fingerprint === fingerprint);
  const current = entries.find((entry) => entry.state === "certified" && (entry.expiresAt === null || Date.parse(entry.expiresAt) > now.getTime()));
  if (current) return { warning: null, basis };
  const revoked = entries.find((entry) => entry.state === "revoked");
  if (revoked) return { warning: `the portal revoked the certification of key ${fingerprint} on ${(revoked.revokedAt ?? "").slice(0, 10)}; installs will refuse the module`, basis };
  if (entries.length > 0) return { warning: `the portal's certification of key ${fingerprint} has expired; ${invalid}. Renew the certification`, basis };
  return { warning: `the portal's status feed lists no certification of key ${fingerprint}; ${invalid}`, basis };
}

/** A certification whose issuer names a master (by fingerprint or key ID), when the master's key is not at hand to verify it. */
function claimedByMaster(key: PublicKey, masters: readonly string[]): string | null {
  for (const user of key.users) {
    for (const certification of user.otherCertifications) {
      const keyId = certification.issuerKeyID.toHex().toUpperCase();
      const master = masters.find((fingerprint) => fingerprint.endsWith(keyId));
      const made = certification.created?.getTime() ?? Infinity;
      // A later revocation by the same issuer takes the claim back, verified or not.
      const withdrawn = user.revocationSignatures.some((revocation) => revocation.issuerKeyID.equals(certification.issuerKeyID) && (revocation.created?.getTime() ?? 0) >= made);
      if (master !== undefined && !withdrawn) return master;
    }
  }
  return null;
}
