/**
 * A deliberately strict addr-spec: dot-atom local part and a DNS domain with a
 * dot. Quoted local parts, IP literals and comments are refused: none is needed
 * by a developer, and each is a way to smuggle text into a mail header or envelope.
 */
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL = `${ATOM}(?:\\.${ATOM})*`;
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const DOMAIN = `${LABEL}(?:\\.${LABEL})+`;
const ADDR_SPEC = new RegExp(`^${LOCAL}@${DOMAIN}$`);

export const MAX_ADDRESS_LENGTH = 254;

export function isStrictAddrSpec(value: string): boolean {
  if (value.length > MAX_ADDRESS_LENGTH) return false;
  const at = value.lastIndexOf("@");
  if (at < 1 || at > 64) return false;
  return ADDR_SPEC.test(value);
}

/** Addresses are compared and stored lower-cased; returns null for anything not a strict addr-spec. */
export function normaliseAddress(input: string): string | null {
  const value = input.trim().toLowerCase();
  return isStrictAddrSpec(value) ? value : null;
}
