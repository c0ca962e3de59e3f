/**
 * What a published certification revocation says. It is a public artefact, read by people
 * who run `gpg --check-sigs` on an install, so it names who withdrew the certification and
 * where the reason and date are; it always uses reason code 0, as RFC 4880 allows only 0 or
 * 32 for a certification revocation. Signer and import build the text with these functions
 * from what the batch carries, so both expect the same bytes.
 */
import { describeRevocationReason } from "../revocation-reasons.ts";

/** The public status page of a key, which every revocation points to. */
export function keyStatusUrl(publicUrl: string, fingerprint: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/keys/${fingerprint.toUpperCase()}`;
}

/** The sealed revocation is made at the ceremony, long before anyone knows why it may be used. */
export function sealedRevocationText(organisation: string, statusUrl: string): string {
  return `Certification withdrawn by ${organisation}; the reason and date are at ${statusUrl}`;
}

/** A revocation signed in a batch (no sealed one was kept) says the actual reason. */
export function batchRevocationText(organisation: string, reason: { code: string; text: string }, statusUrl: string): string {
  return `Certification withdrawn by ${organisation}: ${describeRevocationReason(reason.code, reason.text)}. Details: ${statusUrl}`;
}
