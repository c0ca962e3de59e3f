import { hash, verify } from "@node-rs/argon2";

/**
 * Staff passwords: the rules a new one must meet, and how it is stored. Length matters more
 * than composition rules (NIST SP 800-63B), so there are none of the latter; a short list
 * of passwords that attackers try first is refused outright.
 */
export const MIN_PASSWORD_LENGTH = 12;
/** Long enough for any passphrase; bounds the work one login request can cause. */
export const MAX_PASSWORD_LENGTH = 256;

/**
 * argon2id at OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about 10 ms
 * of one core here, which is also why tests can afford the production cost.
 */
export const ARGON2_OPTIONS = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MESSAGES = {
  tooShort: `Choose a password of at least ${MIN_PASSWORD_LENGTH} characters; a few unrelated words work well.`,
  tooLong: `A password can be at most ${MAX_PASSWORD_LENGTH} characters.`,
  isEmail: "Your password cannot be your email address.",
  common: "This password is one of the first that attackers try. Choose another.",
  mismatch: "The two passwords differ. Type the same password twice.",
} as const;

const COMMON_PASSWORDS = new Set([
  "123456789012",
  "1234567890123",
  "12345678901234",
  "1q2w3e4r5t6y",
  "1qaz2wsx3edc",
  "aaaaaaaaaaaa",
  "abcdefghijkl",
  "abc123456789",
  "administrator",
  "changemenow!",
  "correcthorsebatterystaple",
  "iloveyou1234",
  "keysignadmin",
  "letmein12345",
  "password1234",
  "password12345",
  "password123!",
  "passwordpassword",
  "p@ssw0rd1234",
  "qwerty123456",
  "qwertyuiop12",
  "qwertyuiopasdf",
  "welcome12345",
  "freepbxadmin",
]);

/** The first rule a new password breaks, as a message to show; null when it is acceptable. */
export function passwordProblem(password: string, email: string): string | null {
  if ([...password].length < MIN_PASSWORD_LENGTH) return PASSWORD_MESSAGES.tooShort;
  if (password.length > MAX_PASSWORD_LENGTH) return PASSWORD_MESSAGES.tooLong;
  const folded = password.trim().toLowerCase();
  const address = email.trim().toLowerCase();
  if (address !== "" && (folded === address || folded === address.split("@")[0])) return PASSWORD_MESSAGES.isEmail;
  // One character repeated is as weak as the list.
  if (COMMON_PASSWORDS.has(folded) || /^(.)\1*$/.test(folded)) return PASSWORD_MESSAGES.common;
  return null;
}

export async function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_OPTIONS);
}

/** False for a malformed stored hash as for a wrong password: never throws on input. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
