/**
 * User ID rules. A user ID is hostile text that ends up in emails, HTML, logs and other
 * people's keyrings, so we accept a deliberately small grammar:
 *
 *   "Name <local@domain>"   name: visible text without "<", ">" or "@"; one space before "<"
 *   "<local@domain>"        as GnuPG writes an address-only user ID
 *   "local@domain"          a bare address
 *   "Name"                  no address (allowed, but a key needs at least one address)
 *
 * The address must pass the portal's one strict addr-spec (src/core/email-address.ts), the
 * same rule sign-in addresses pass; IDNs come as A-labels, "xn--". "@" is refused in the name
 * so a name cannot pose as a second address.
 */
import { isStrictAddrSpec } from "../email-address.ts";
import { hasForbiddenCharacter, messages, quoteText } from "./messages.ts";
import { LIMITS, type PolicyProblem, type UserIdFacts } from "./types.ts";

export type UserIdCheck = { ok: true; facts: UserIdFacts } | { ok: false; problem: PolicyProblem };

const strictDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientDecoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/** Text of a user ID for messages and warnings, whatever its encoding. */
export function displayUserId(raw: Uint8Array): string {
  return quoteText(lenientDecoder.decode(raw));
}

export function checkUserId(raw: Uint8Array): UserIdCheck {
  if (raw.length > LIMITS.maxUserIdBytes) return refuse(messages.userIdTooLong(displayUserId(raw), raw.length));
  const text = decodeStrict(raw);
  if (text === null) return refuse(messages.userIdEncoding(displayUserId(raw)));
  if (hasForbiddenCharacter(text)) return refuse(messages.userIdCharacters(quoteText(text)));
  const parsed = parseUserId(text);
  if (typeof parsed === "string") return refuse(messages.userIdFormat(quoteText(text), parsed));
  return { ok: true, facts: { userId: text, ...parsed } };
}

function refuse(problem: PolicyProblem): UserIdCheck {
  return { ok: false, problem };
}

function decodeStrict(raw: Uint8Array): string | null {
  try {
    return strictDecoder.decode(raw);
  } catch {
    return null;
  }
}

/** Returns the name and address, or a reason the text does not fit the grammar above. */
function parseUserId(text: string): Omit<UserIdFacts, "userId"> | string {
  if (text.trim() === "") return "it is empty";
  if (text !== text.trim()) return "it starts or ends with a space";
  if (text.includes("  ")) return "it contains consecutive spaces";
  const angled = /^(?:(.+) )?<([^<>]*)>$/s.exec(text);
  if (angled) return parseNameAndAddress(angled[1] ?? "", angled[2] ?? "");
  if (/[<>]/.test(text)) return 'the angle brackets must enclose the address at the end, as in "Name <you@example.org>"';
  if (text.includes("@")) return parseBareAddress(text);
  return { name: text, email: null };
}

function parseNameAndAddress(name: string, address: string): Omit<UserIdFacts, "userId"> | string {
  if (/[<>]/.test(name)) return "it may contain only one address in angle brackets";
  if (name.includes("@")) return 'the name part must not contain "@"';
  if (!isStrictAddrSpec(address)) return `${quoteText(address)} is not a plain email address`;
  return { name, email: address.toLowerCase() };
}

function parseBareAddress(text: string): Omit<UserIdFacts, "userId"> | string {
  if (!isStrictAddrSpec(text)) return "it is neither a plain email address nor a name without \"@\"";
  return { name: "", email: text.toLowerCase() };
}

