/**
 * Trust as GnuPG computes it on a FreePBX install, where the master keys have ultimate
 * ownertrust and nothing else has any: a key is fully valid when it is a master or carries a
 * valid, unexpired, unrevoked certification made directly by a master on a valid user ID. A
 * master's trust signature (depth 1, amount 60, as on FreePBX's mirror key) makes the key it
 * certifies valid, but the keys *that* key certifies get only marginal validity (one marginal
 * introducer of the three GnuPG needs), which FreePBX does not count as trusted.
 */
import { enums, type PublicKey } from "openpgp";
import { masterCertifications, masterRevocations, primaryStanding, type MasterCertification, type PrimaryStanding, type Revocation } from "./keyring.ts";

/** GnuPG's full trust amount in a trust signature; below it the introducer is marginal. */
const FULL_TRUST_AMOUNT = 120;

export type TrustLevel = "ultimate" | "full" | "marginal" | "none";

export interface Trust {
  level: TrustLevel;
  /** The certification that makes the key valid (full), or the introducer's (marginal). */
  via: MasterCertification | null;
  /** The introducer a marginal key is certified by. */
  introducer: PublicKey | null;
  /** Master certifications of this key that a master revoked. */
  revoked: MasterCertification[];
  /** Revocations FreePBX's `--check-sigs` regex would see (by an RSA master); see `freepbxRevocations`. */
  freepbxSees: Revocation[];
  /** Master revocations FreePBX misses because the master is not RSA. */
  freepbxMisses: Revocation[];
}

/** The master keys present in `keys` and valid (not revoked, not expired) at `now`. */
export async function validMasters(keys: readonly PublicKey[], masters: readonly string[], now: Date): Promise<PublicKey[]> {
  const found: PublicKey[] = [];
  for (const key of keys) {
    if (!masters.includes(key.getFingerprint().toUpperCase())) continue;
    const standing = await primaryStanding(key, now);
    if (standing.revoked === null && !standing.expired && standing.validUsers.length > 0) found.push(key);
  }
  return found;
}

export async function trustOf(key: PublicKey, standing: PrimaryStanding, keys: readonly PublicKey[], masters: readonly PublicKey[], now: Date): Promise<Trust> {
  const revocations = await revocationsSeen(key, masters, now);
  const isMaster = masters.some((master) => master.getFingerprint() === key.getFingerprint());
  if (isMaster) return { level: "ultimate", via: null, introducer: null, revoked: [], ...revocations };
  const certifications = await masterCertifications(key, standing, masters, now);
  const revoked = certifications.filter((certification) => certification.revoked !== null);
  const valid = certifications.filter((certification) => certification.revoked === null && !certification.expired).sort((a, b) => b.at.getTime() - a.at.getTime());
  if (valid[0]) return { level: "full", via: valid[0], introducer: null, revoked, ...revocations };
  const introduced = await throughIntroducer(key, standing, keys, masters, now);
  if (introduced) return { level: introduced.level, via: introduced.via, introducer: introduced.introducer, revoked, ...revocations };
  return { level: "none", via: null, introducer: null, revoked, ...revocations };
}

async function revocationsSeen(key: PublicKey, masters: readonly PublicKey[], now: Date): Promise<Pick<Trust, "freepbxSees" | "freepbxMisses">> {
  const seen: Pick<Trust, "freepbxSees" | "freepbxMisses"> = { freepbxSees: [], freepbxMisses: [] };
  for (const master of masters) {
    const found = await masterRevocations(key, master, now);
    // FreePBX's regex is `^rev:!::1:<master>`: field 4 is the master's algorithm, and only 1 (RSA) matches.
    (master.keyPacket.algorithm === enums.publicKey.rsaEncryptSign ? seen.freepbxSees : seen.freepbxMisses).push(...found);
  }
  return seen;
}

/** A key certified by an introducer that a master certified with a trust signature. */
async function throughIntroducer(
  key: PublicKey,
  standing: PrimaryStanding,
  keys: readonly PublicKey[],
  masters: readonly PublicKey[],
  now: Date,
): Promise<{ level: TrustLevel; via: MasterCertification; introducer: PublicKey } | null> {
  for (const introducer of keys) {
    if (introducer === key || masters.includes(introducer)) continue;
    const introducerStanding = await primaryStanding(introducer, now);
    if (introducerStanding.revoked !== null || introducerStanding.expired) continue;
    const byMasters = await masterCertifications(introducer, introducerStanding, masters, now);
    const trusted = byMasters.find((certification) => certification.trust !== null && certification.revoked === null && !certification.expired);
    if (!trusted?.trust) continue;
    const [via] = (await masterCertifications(key, standing, [introducer], now)).filter((certification) => certification.revoked === null && !certification.expired);
    if (via) return { level: trusted.trust.amount >= FULL_TRUST_AMOUNT ? "full" : "marginal", via, introducer };
  }
  return null;
}
