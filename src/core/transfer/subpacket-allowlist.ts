/**
 * What a master signature that comes back from the ceremony may carry, by allowlist
 * (SECURITY.md: accept returned OpenPGP structures by allowlist, never by denylist).
 *
 * A certification that carries more than the batch asked for can change what it means: a
 * trust signature (GnuPG's `tsign`) would make the certified developer an introducer whose own
 * certifications every install trusts; a regular expression, a revocation key or key flags
 * would change whom it trusts or how. So each hashed subpacket type is listed with how many
 * times it may appear and whether it may be critical, and anything else refuses the
 * signature, naming the subpacket. The values of the allowed ones (expiry, policy, notations,
 * reason) are compared with the batch by the certification checks.
 *
 * The unhashed area is covered by no signature and anyone can edit it: it may hold only the
 * issuer's key ID and fingerprint, and the stored copy is rebuilt with only those.
 */
import { concatBytes, toHex } from "../key-policy/packets.ts";
import { withUnhashedArea, type SignatureLayout, type Subpacket } from "../key-policy/subpackets.ts";

export const SUBPACKET_TYPE = Object.freeze({
  created: 2,
  expires: 3,
  issuerKeyId: 16,
  notation: 20,
  policyUri: 26,
  reason: 29,
  issuerFingerprint: 33,
});

/** RFC 4880 §5.2.3.1 and RFC 9580 §5.2.3.7 names, so a refusal says what was found. */
const SUBPACKET_NAMES: Readonly<Record<number, string>> = {
  2: "signature creation time",
  3: "signature expiration time",
  4: "exportable certification",
  5: "trust signature",
  6: "regular expression",
  7: "revocable",
  9: "key expiration time",
  10: "placeholder for backward compatibility",
  11: "preferred symmetric algorithms",
  12: "revocation key",
  16: "issuer key ID",
  20: "notation data",
  21: "preferred hash algorithms",
  22: "preferred compression algorithms",
  23: "key server preferences",
  24: "preferred key server",
  25: "primary user ID",
  26: "policy URI",
  27: "key flags",
  28: "signer's user ID",
  29: "reason for revocation",
  30: "features",
  31: "signature target",
  32: "embedded signature",
  33: "issuer fingerprint",
  34: "preferred AEAD algorithms",
  35: "intended recipient fingerprint",
  37: "attested certifications",
  38: "key block",
  39: "preferred AEAD ciphersuites",
};

export function subpacketName(type: number): string {
  return SUBPACKET_NAMES[type] ?? `unknown subpacket type ${type}`;
}

interface Allowance {
  /** Most times the type may appear in the area. */
  max: number;
  /** Whether the critical bit may be set: only for types every reader understands. */
  critical: boolean;
  /**
   * The body's length in bytes: exact where the type has a fixed size, else a minimum. GnuPG
   * reads only the first four bytes of a time while openpgp.js reads them all, so an
   * over-long time would mean one date to the portal and another to every install.
   */
  length: { exact: number } | { min: number };
}

type Allowlist = ReadonlyMap<number, Allowance>;

const TIME: Allowance = { max: 1, critical: true, length: { exact: 4 } };
const KEY_ID: Allowance = { max: 1, critical: false, length: { exact: 8 } };
/** Version 4 (one byte) and the 20-byte fingerprint. */
const FINGERPRINT: Allowance = { max: 1, critical: false, length: { exact: 21 } };

/** A certification (0x10): the batch's notations appear at most as often as the batch holds (8). */
export const CERTIFICATION_HASHED: Allowlist = new Map([
  [SUBPACKET_TYPE.created, TIME],
  [SUBPACKET_TYPE.issuerKeyId, KEY_ID],
  [SUBPACKET_TYPE.issuerFingerprint, FINGERPRINT],
  [SUBPACKET_TYPE.expires, TIME],
  [SUBPACKET_TYPE.policyUri, { max: 1, critical: false, length: { min: 1 } }],
  // Four flag bytes and two two-byte lengths; the certification check compares each body byte for byte.
  [SUBPACKET_TYPE.notation, { max: 8, critical: false, length: { min: 8 } }],
]);

/** A certification revocation (0x30): who, when and why, nothing more. */
export const REVOCATION_HASHED: Allowlist = new Map([
  [SUBPACKET_TYPE.created, TIME],
  [SUBPACKET_TYPE.issuerKeyId, KEY_ID],
  [SUBPACKET_TYPE.issuerFingerprint, FINGERPRINT],
  [SUBPACKET_TYPE.reason, { max: 1, critical: true, length: { min: 1 } }],
]);

export const UNHASHED: Allowlist = new Map([
  [SUBPACKET_TYPE.issuerKeyId, KEY_ID],
  [SUBPACKET_TYPE.issuerFingerprint, FINGERPRINT],
]);

/** Why `area` breaks `allowlist`, in words naming the subpacket; null when it keeps it. */
export function allowlistViolation(area: readonly Subpacket[], allowlist: Allowlist, where: "hashed" | "unhashed"): string | null {
  const counts = new Map<number, number>();
  for (const subpacket of area) {
    const allowance = allowlist.get(subpacket.type);
    const name = subpacketName(subpacket.type);
    if (allowance === undefined) return `it carries ${article(name)} ${name} subpacket (${where} area), which a master signature from this portal never holds`;
    if (subpacket.critical && !allowance.critical) return `its ${name} subpacket is marked critical (${where} area)`;
    const { length } = allowance;
    if ("exact" in length ? subpacket.body.length !== length.exact : subpacket.body.length < length.min) {
      return `its ${name} subpacket is ${subpacket.body.length} bytes long, not ${"exact" in length ? length.exact : `at least ${length.min}`} (${where} area)`;
    }
    const count = (counts.get(subpacket.type) ?? 0) + 1;
    if (count > allowance.max) return `it carries the ${name} subpacket more than ${allowance.max === 1 ? "once" : `${allowance.max} times`} (${where} area)`;
    counts.set(subpacket.type, count);
  }
  return null;
}

function article(name: string): string {
  return /^[aeiou]/.test(name) ? "an" : "a";
}

/** A fixed-size time subpacket's value (seconds), read from the raw bytes as GnuPG reads it; null when absent. */
export function rawTime(area: readonly Subpacket[], type: number): number | null {
  const found = area.find((subpacket) => subpacket.type === type);
  if (found === undefined || found.body.length !== 4) return null;
  return new DataView(found.body.buffer, found.body.byteOffset, 4).getUint32(0);
}

/** Whether every issuer subpacket in the unhashed area names `master` (key ID and fingerprint, upper-case hex). */
export function unhashedIssuersName(layout: SignatureLayout, master: { keyId: string; fingerprint: string }): boolean {
  return layout.unhashed.every((subpacket) => {
    if (subpacket.type === SUBPACKET_TYPE.issuerKeyId) return toHex(subpacket.body).toUpperCase() === master.keyId;
    if (subpacket.type === SUBPACKET_TYPE.issuerFingerprint) return subpacket.body[0] === 4 && toHex(subpacket.body.subarray(1)).toUpperCase() === master.fingerprint;
    return false;
  });
}

/**
 * The signature body the portal stores: the signed bytes as made, and an unhashed area that
 * holds only the issuer key ID, and only when the hashed area does not already name it (GnuPG
 * 2.2 needs a key ID to find the issuer).
 */
export function storedSignatureBody(layout: SignatureLayout, masterKeyId: Uint8Array): Uint8Array {
  const named = layout.hashed.some((subpacket) => subpacket.type === SUBPACKET_TYPE.issuerKeyId);
  const unhashed: Subpacket[] = named ? [] : [{ type: SUBPACKET_TYPE.issuerKeyId, critical: false, body: concatBytes([masterKeyId]) }];
  return withUnhashedArea(layout, unhashed);
}
