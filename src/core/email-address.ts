/**
 * The one strict addr-spec of the portal, for sign-in addresses and for the email part of
 * user IDs alike, so an address confirmed by a link is exactly an address a user ID can carry.
 * It is restricted to what SMTP handles everywhere: an ASCII dot-atom local part (no quoted
 * strings, no comments) of at most 64 octets, and a DNS domain of LDH labels with at least one
 * dot and a non-numeric top label (no IP literals). Each refused form is a way to smuggle text
 * into a mail header or envelope, and none is needed by a developer.
 */
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

export const MAX_ADDRESS_LENGTH = 254;

export function isStrictAddrSpec(address: string): boolean {
  const at = address.lastIndexOf("@");
  if (at <= 0 || address.length > MAX_ADDRESS_LENGTH) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.length > 64 || !LOCAL_PART.test(local)) return false;
  if (domain.length > 253) return false;
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((label) => DOMAIN_LABEL.test(label))) return false;
  // A numeric top label would make "1.2.3.4" an address domain.
  return !/^[0-9]+$/.test(labels[labels.length - 1] ?? "");
}

/** Addresses are compared and stored lower-cased; returns null for anything not a strict addr-spec. */
export function normaliseAddress(input: string): string | null {
  const value = input.trim().toLowerCase();
  return isStrictAddrSpec(value) ? value : null;
}
