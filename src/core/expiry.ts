/**
 * When certifications and keys lapse, and which reminder is due: pure rules, the time passed in.
 */
import { certificationExpiry } from "./publication/key-status.ts";

/** Days before an expiry that the owner hears about it, largest first. */
export const REMINDER_DAYS = [60, 30, 7] as const;
/** The staff digest lists what expires within this many days. */
export const DIGEST_HORIZON_DAYS = 60;

const DAY_MS = 86_400_000;

/**
 * The reminder due now for something expiring at `expiresAt`: the smallest threshold already
 * reached, or null before the first one and once it has expired. Only the latest threshold
 * counts, so a portal that was down past 60 and 30 days sends the 7-day reminder alone.
 */
export function dueThreshold(expiresAt: Date | null, now: Date): number | null {
  if (expiresAt === null || expiresAt <= now) return null;
  const left = expiresAt.getTime() - now.getTime();
  const reached = REMINDER_DAYS.filter((days) => left <= days * DAY_MS);
  return reached.length === 0 ? null : Math.min(...reached);
}

/** Whole days left before `expiresAt`, as a person counts them (rounded up). */
export function daysLeft(expiresAt: Date, now: Date): number {
  return Math.max(0, Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS));
}

/** Whether `expiresAt` falls after `now` and within `days` days of it. */
export function expiresWithin(expiresAt: Date | null, now: Date, days: number): boolean {
  return expiresAt !== null && expiresAt > now && expiresAt.getTime() - now.getTime() <= days * DAY_MS;
}

/**
 * When one ceremony's certifications of a request lapse: the latest of their signed expiries;
 * null when there are none or one never expires.
 */
export function requestCertificationExpiry(signatures: readonly Uint8Array[]): Date | null {
  if (signatures.length === 0) return null;
  const expiries = signatures.map(certificationExpiry);
  if (expiries.some((expiry) => expiry === null)) return null;
  return new Date(Math.max(...expiries.map((expiry) => expiry?.getTime() ?? 0)));
}

/** A request's certification as the expiry rules see it. */
export interface CertifiedRequest {
  requestId: string;
  fingerprint: string;
  ownerEmail: string;
  certifiedAt: Date;
  expiresAt: Date | null;
  revoked: boolean;
}

/**
 * The certifications still in force or lapsed, one per key: the newest request's. An older
 * certification of the same key is superseded, and a key whose newest certification was
 * revoked has none.
 */
export function currentCertifications(requests: readonly CertifiedRequest[]): CertifiedRequest[] {
  const newest = new Map<string, CertifiedRequest>();
  for (const request of requests) {
    const seen = newest.get(request.fingerprint);
    if (!seen || request.certifiedAt > seen.certifiedAt) newest.set(request.fingerprint, request);
  }
  return [...newest.values()].filter((request) => !request.revoked);
}
