/**
 * What the intake policy accepts, in words people read before they make a key: the start page
 * renders it from here, so it says what intake checks and changes when the policy does.
 */
import { LIMITS, type PrimaryAlgorithmId } from "./types.ts";

/**
 * The primary key algorithms intake accepts (`primaryAlgorithmId` in algorithms.ts), as GnuPG
 * names them. A record over the id type: an algorithm added to the policy cannot go unnamed here.
 */
export const PRIMARY_ALGORITHM_NAMES: Readonly<Record<PrimaryAlgorithmId, string>> = Object.freeze({
  ed25519: "Ed25519",
  "ecdsa-p256": "ECDSA P-256",
  "ecdsa-p384": "ECDSA P-384",
  "ecdsa-p521": "ECDSA P-521",
  rsa: "RSA",
});

export interface AcceptedKeyPolicy {
  /** The primary algorithms accepted, in the order they are recommended. */
  algorithms: ReadonlyArray<PrimaryAlgorithmId>;
  minRsaBits: number;
  maxRsaBits: number;
  /** RSA below this is accepted with a warning. */
  rsaWarnBelowBits: number;
  maxUserIds: number;
  maxSubkeys: number;
  maxUploadBytes: number;
}

/** The policy intake enforces, with the deployment's RSA minimum (MIN_RSA_BITS). */
export function acceptedKeyPolicy(minRsaBits: number): AcceptedKeyPolicy {
  return {
    algorithms: Object.keys(PRIMARY_ALGORITHM_NAMES) as PrimaryAlgorithmId[],
    minRsaBits,
    maxRsaBits: LIMITS.maxRsaBits,
    rsaWarnBelowBits: LIMITS.rsaWarnBelowBits,
    maxUserIds: LIMITS.maxUserIds,
    maxSubkeys: LIMITS.maxSubkeys,
    maxUploadBytes: LIMITS.maxUploadBytes,
  };
}
