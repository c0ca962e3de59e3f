/** Public shapes of the key intake policy; see the "Key intake policy" table in SECURITY.md. */

export interface KeyPolicyOptions {
  /** The instant every validity rule is evaluated at; callers pass it so results never depend on the wall clock. */
  now: Date;
  /** Smallest RSA modulus accepted for the primary key and for subkeys. */
  minRsaBits: number;
}

export const DEFAULT_KEY_POLICY: Omit<KeyPolicyOptions, "now"> = Object.freeze({ minRsaBits: 2048 });

export interface PolicyProblem {
  /** Stable machine code, e.g. "KEYSIGN_ERR_KEY_SECRET" or "KEYSIGN_WARN_RSA_BELOW_3072". */
  code: string;
  /** User-facing and actionable; never contains key material. */
  message: string;
}

export interface UserIdFacts {
  userId: string;
  name: string;
  /** Lower-cased addr-spec, or null for a name-only user ID. */
  email: string | null;
}

export type Capability = "sign" | "encrypt" | "authenticate";

export interface SubkeyFacts {
  fingerprint: string;
  algorithm: string;
  capabilities: Capability[];
  createdAt: Date;
  expiresAt: Date | null;
}

export interface KeyFacts {
  /** 40 upper-case hex digits. */
  fingerprint: string;
  /** Human label, e.g. "RSA 4096", "Ed25519", "ECDSA P-256". */
  algorithm: string;
  algorithmId: PrimaryAlgorithmId;
  bits: number;
  createdAt: Date;
  expiresAt: Date | null;
  /** Only valid, bound user IDs, in key order. */
  userIds: UserIdFacts[];
  /** Only properly bound subkeys. */
  subkeys: SubkeyFacts[];
  canSign: boolean;
  canEncrypt: boolean;
}

export type PrimaryAlgorithmId = "ed25519" | "rsa" | "ecdsa-p256" | "ecdsa-p384" | "ecdsa-p521";

export type InspectResult =
  | { ok: true; facts: KeyFacts; warnings: PolicyProblem[]; minimal: Uint8Array }
  | { ok: false; problems: PolicyProblem[] };

export interface CanonicalKey {
  binary: Uint8Array;
  /** Lower-case hex SHA-256 of `binary`. */
  sha256: string;
  armored: string;
  fingerprint: string;
  userIds: string[];
}

export type PossessionResult = { ok: true; signerFingerprint: string } | { ok: false; problem: PolicyProblem };

/**
 * Limits from SECURITY.md. Counts are taken on the upload as received, before anything is
 * stripped, and before any library parses it: together they bound the work one upload can cause.
 */
export const LIMITS = Object.freeze({
  maxUploadBytes: 1024 * 1024,
  maxCanonicalBytes: 256 * 1024,
  maxUserIds: 10,
  maxSubkeys: 8,
  maxSignaturePackets: 200,
  /** Photo IDs are always stripped; a few are tolerated so that such keys need no re-export. */
  maxUserAttributes: 10,
  /** Every packet of every type, in every block: the limits above add up to 229, plus room for trust and marker packets. */
  maxPackets: 512,
  /** Exactly one key is accepted; a few blocks are read so that a second key or a private block is named as such. */
  maxArmorBlocks: 4,
  /** Lines of armored text, blank ones included: 1 MiB armored at 64 characters a line is about 16,400. */
  maxArmorLines: 20_000,
  /** Armor lines are at most 76 characters (RFC 9580 §6.2); longer ones mean the text was altered. */
  maxArmorLineLength: 1024,
  /** Applies to every user ID packet, bound or not: each is hashed once per signature that claims it. */
  maxUserIdBytes: 256,
  /** Per signature packet, embedded signatures' included: a GnuPG self-signature has about 15. */
  maxSubpackets: 64,
  /** Public key and subkey packets: RSA-16384 with a 64-bit exponent is 2,066 bytes. */
  maxKeyPacketBytes: 4096,
  /** RSA verification time grows with the exponent; GnuPG and OpenSSL use 65537, and OpenSSL refuses over 64 bits. */
  maxRsaExponentBits: 64,
  /**
   * Self-signatures, revocations and back-signatures that may fail to verify before the key is
   * refused: each costs a public-key operation (3.5 ms for P-521 here), and a key as exported
   * has none. See `failureWeight` in binding.ts for the ones that cost more.
   */
  maxFailedVerifications: 4,
  /**
   * All signature checks of one upload together, in cost units (see `verificationCost` in
   * binding.ts; one unit is about 0.4 ms here): every input up to the upload cap is answered
   * in well under 100 ms. An Ed25519 key at every count limit needs about 30 units; a P-521
   * key with 10 user IDs and 8 signing subkeys would need 182.
   */
  maxVerificationCost: 150,
  /** RSA above this costs too much to verify and nothing real needs it; GnuPG 2.2 caps generation at 4096. */
  maxRsaBits: 16384,
  rsaWarnBelowBits: 3072,
  expiryWarningDays: 30,
  /** A detached signature is a few hundred bytes; RSA-16384 is about 2 KiB. */
  maxSignatureBytes: 64 * 1024,
});
