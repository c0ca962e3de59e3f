import { KEY_ENDED_CODE } from "../../core/key-history.ts";
import { KEY_POLICY_CODES as CODES } from "../../core/key-policy.ts";
import { SUBMISSION_CODES } from "../../core/submission.ts";

/**
 * Refusals that the key policy can only reach once the upload parsed as public-key packets and
 * nothing else (intake refuses secret material, compressed or malformed data, other OpenPGP
 * messages, several keys and oversized uploads before that). Only then is the pasted text put
 * back in the form for correction. An allowlist: a code added later is not echoed until someone
 * decides it is safe to.
 */
const ECHO_SAFE: ReadonlySet<string> = new Set([
  CODES.algorithm,
  CODES.rsaSize,
  CODES.weakHash,
  CODES.future,
  CODES.expired,
  CODES.revoked,
  CODES.noValidUserId,
  CODES.noEmail,
  CODES.cannotSign,
  CODES.userIdEncoding,
  CODES.userIdTooLong,
  CODES.userIdCharacters,
  CODES.userIdFormat,
  KEY_ENDED_CODE,
  SUBMISSION_CODES.keyOpenHere,
  SUBMISSION_CODES.keyOpenElsewhere,
]);

/** Whether a refused key upload may be shown again in the form's text box. */
export function mayEchoKeyText(problems: ReadonlyArray<{ code: string }>): boolean {
  return problems.length > 0 && problems.every((problem) => ECHO_SAFE.has(problem.code));
}
