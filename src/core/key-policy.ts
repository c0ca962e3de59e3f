/**
 * Key intake policy (SECURITY.md, "Key intake policy"): what a public key must be before the
 * portal stores it, and the canonical bytes that are stored, signed and published.
 *
 *   inspectKey        upload → facts, warnings and a minimal canonical copy, or problems
 *   canonicalizeKey   minimal copy + chosen user IDs → the exact bytes to certify
 *   verifyPossession  detached signature by the key over a document
 *
 * The implementation lives in ./key-policy/, one concern per file.
 */
export { DEFAULT_KEY_POLICY, LIMITS } from "./key-policy/types.ts";
export type {
  CanonicalKey,
  Capability,
  InspectResult,
  KeyFacts,
  KeyPolicyOptions,
  PolicyProblem,
  PossessionResult,
  PrimaryAlgorithmId,
  SubkeyFacts,
  UserIdFacts,
} from "./key-policy/types.ts";
export { canonicalizeKey, inspectKey, KeyPolicyError } from "./key-policy/inspect.ts";
export { verifyPossession } from "./key-policy/possession.ts";
export { formatFingerprint } from "./key-policy/fingerprint.ts";
export { armorPublicKey } from "./key-policy/armor.ts";
export { CODES as KEY_POLICY_CODES, formProblem } from "./key-policy/messages.ts";
export { acceptedKeyPolicy, PRIMARY_ALGORITHM_NAMES, type AcceptedKeyPolicy } from "./key-policy/accepted.ts";
