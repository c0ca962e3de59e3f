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

/** Limits from SECURITY.md. Counts are taken on the upload as received, before anything is stripped. */
export const LIMITS = Object.freeze({
  maxUploadBytes: 1024 * 1024,
  maxCanonicalBytes: 256 * 1024,
  maxUserIds: 10,
  maxSubkeys: 8,
  maxSignaturePackets: 200,
  maxUserIdBytes: 256,
  /** RSA above this costs too much to verify and nothing real needs it; GnuPG 2.2 caps generation at 4096. */
  maxRsaBits: 16384,
  rsaWarnBelowBits: 3072,
  expiryWarningDays: 30,
  /** A detached signature is a few hundred bytes; RSA-16384 is about 2 KiB. */
  maxSignatureBytes: 64 * 1024,
});
