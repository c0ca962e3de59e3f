import { createHash, randomBytes } from "node:crypto";

/** 128 bits of randomness, URL-safe. */
export function newToken(): string {
  return randomBytes(16).toString("base64url");
}

/** Tokens are stored only as their SHA-256, so a database leak yields no usable link or session. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A token as we hand it out: 22 base64url characters. Anything else is not looked up. */
export function isWellFormedToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(value);
}
