/**
 * Writes the canonical copy: the primary key, its newest valid direct-key self-signature (if
 * any), the selected user IDs each with its newest valid self-signature, and the kept subkeys
 * each with its newest valid binding signature. Packets use new-format headers.
 *
 * Hashed areas are copied byte for byte. The unhashed area, which no signature covers, is
 * rebuilt from scratch, so nothing an uploader (or a keyserver) put there survives. It gets:
 *   - an Issuer Key ID subpacket naming the verified issuer, unless the hashed area has one.
 *     GnuPG 2.2 finds the issuer of a self-signature only through it: measured with 2.2.40,
 *     a key whose self-signatures carry just the hashed Issuer Fingerprint is skipped on import
 *     ("contains no user ID"; see test/core/gpg-interop.test.ts). Its value is the key that
 *     verified the signature, never bytes from the upload.
 *   - for a signing subkey, the embedded back-signature if it was in the unhashed area, as
 *     GnuPG 2.2 writes it there; its own unhashed area is rebuilt the same way.
 * The output depends only on the kept packets, so the same input always gives the same bytes.
 */
import type { KeyID } from "openpgp";
import type { Evaluation, KeptUserId } from "./evaluate.ts";
import { concatBytes, TAG, writePacket } from "./packets.ts";
import type { ParsedSignature } from "./structure.ts";
import type { KeptSubkey } from "./subkeys.ts";
import { findSubpackets, SUBPACKET, withUnhashedArea, type Subpacket } from "./subpackets.ts";

export function writeCanonical(evaluation: Evaluation, userIds: readonly KeptUserId[]): Uint8Array {
  const primaryKeyId = evaluation.primary.getKeyID();
  const packets = [writePacket(TAG.publicKey, evaluation.primaryRaw)];
  if (evaluation.directSignature) packets.push(writeSignature(evaluation.directSignature, primaryKeyId, []));
  for (const user of userIds) {
    packets.push(writePacket(TAG.userId, user.raw), writeSignature(user.selfSignature, primaryKeyId, []));
  }
  for (const subkey of evaluation.subkeys) {
    packets.push(writePacket(TAG.publicSubkey, subkey.raw), writeSignature(subkey.binding, primaryKeyId, embeddedBackSignature(subkey)));
  }
  return concatBytes(packets);
}

/** One kept signature packet, its unhashed area rebuilt as described above. */
export function writeSignature(signature: ParsedSignature, issuer: KeyID, extra: readonly Subpacket[]): Uint8Array {
  return writePacket(TAG.signature, normalisedBody(signature, issuer, extra));
}

function normalisedBody(signature: ParsedSignature, issuer: KeyID, extra: readonly Subpacket[]): Uint8Array {
  const hasHashedIssuer = findSubpackets(signature.layout.hashed, SUBPACKET.issuerKeyId).length > 0;
  const issuerSubpacket: Subpacket = { type: SUBPACKET.issuerKeyId, critical: false, body: keyIdBytes(issuer) };
  return withUnhashedArea(signature.layout, [...(hasHashedIssuer ? [] : [issuerSubpacket]), ...extra]);
}

/** The back-signature to carry in a subkey binding's unhashed area, if it was there. */
export function embeddedBackSignature(subkey: KeptSubkey): Subpacket[] {
  const back = subkey.backSignature;
  if (back === null || back.location === "hashed") return [];
  const body = normalisedBody(back.signature, subkey.packet.getKeyID(), []);
  return [{ type: SUBPACKET.embeddedSignature, critical: false, body }];
}

function keyIdBytes(keyId: KeyID): Uint8Array {
  return Uint8Array.from(Buffer.from(keyId.toHex(), "hex"));
}
