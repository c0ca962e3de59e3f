/**
 * Sorts the key's user IDs into bound (kept) and stripped ones.
 *
 * A user ID is bound when its newest verifying self-certification (0x10–0x13 by the primary)
 * is unexpired and no verifying certification revocation (0x30 by the primary) exists.
 * Revocation is treated conservatively: any valid revocation strips the user ID, even if a
 * newer self-signature exists, because certifying an identity its owner once withdrew is the
 * worse mistake. Unbound user IDs are stripped, not refused (SECURITY.md); their text is
 * checked only if they are kept. Photo IDs and other user attributes are always stripped.
 */
import { enums } from "openpgp";
import { hasRevocation, isIssuedBy, selectNewest, type Verifier } from "./binding.ts";
import type { CertificateStructure, ParsedSignature, UserComponent } from "./structure.ts";

export interface BoundUser {
  raw: Uint8Array;
  selfSignature: ParsedSignature;
}

export interface UserSorting {
  bound: BoundUser[];
  /** User IDs whose newest self-signature uses a weak hash (see `selectNewest`); the key is refused. */
  weak: BoundUser[];
  unbound: Uint8Array[];
  revoked: Uint8Array[];
  attributes: number;
  /** Signatures by other keys (or unreadable ones) on the primary key and its user IDs. */
  foreignSignatures: number;
}

const CERTIFICATIONS = [enums.signature.certGeneric, enums.signature.certPersona, enums.signature.certCasual, enums.signature.certPositive];

export async function sortUsers(structure: CertificateStructure, verifier: Verifier): Promise<UserSorting> {
  const sorting: UserSorting = { bound: [], weak: [], unbound: [], revoked: [], attributes: 0, foreignSignatures: countForeign(structure.direct.signatures, verifier) };
  sorting.foreignSignatures += structure.direct.unreadable;
  for (const user of structure.users) {
    sorting.foreignSignatures += countForeign(user.signatures, verifier) + user.unreadable;
    if (user.kind === "userAttribute") {
      sorting.attributes += 1;
      continue;
    }
    await sortUserId(user, verifier, sorting);
  }
  return sorting;
}

async function sortUserId(user: UserComponent, verifier: Verifier, sorting: UserSorting): Promise<void> {
  const data = { key: verifier.primary, userID: { write: () => user.raw } };
  if (await hasRevocation(user.signatures, enums.signature.certRevocation, data, verifier)) {
    sorting.revoked.push(user.raw);
    return;
  }
  const selection = await selectNewest(user.signatures, CERTIFICATIONS, data, verifier, verifier.primary.created);
  if (selection.state === "valid") sorting.bound.push({ raw: user.raw, selfSignature: selection.signature });
  else if (selection.state === "weak") sorting.weak.push({ raw: user.raw, selfSignature: selection.signature });
  else sorting.unbound.push(user.raw);
}

function countForeign(signatures: readonly ParsedSignature[], verifier: Verifier): number {
  return signatures.filter((signature) => !isIssuedBy(signature, verifier.primary)).length;
}
