/**
 * Staff login throttling. Failures are counted per account (by the address typed, so an
 * unknown address is throttled exactly like a known one) and per client address. Past a
 * few failures each further attempt must wait, the wait doubling up to a cap. Attempts
 * refused while waiting are not counted, so nobody can extend someone else's wait by
 * hammering: the owner can always sign in once the current wait is over.
 */
export interface ThrottleRule {
  /** Failures allowed without any wait. */
  freeFailures: number;
  /** Only failures this recent count. */
  windowMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const ACCOUNT_THROTTLE: ThrottleRule = { freeFailures: 5, windowMs: 60 * 60_000, baseDelayMs: 30_000, maxDelayMs: 15 * 60_000 };
/** Higher, since several people may share an office's address. */
export const ADDRESS_THROTTLE: ThrottleRule = { freeFailures: 20, windowMs: 60 * 60_000, baseDelayMs: 30_000, maxDelayMs: 15 * 60_000 };

/**
 * When the next attempt may be made, given the counted failures (newest first), or null
 * when it may be made now. After the 5th failure (account rule) the wait is 30 s, then
 * 1, 2, 4, 8 minutes, then 15 minutes at most.
 */
export function nextAttemptAt(rule: ThrottleRule, failuresNewestFirst: readonly Date[], now: Date): Date | null {
  const newest = failuresNewestFirst[0];
  const excess = failuresNewestFirst.length - rule.freeFailures;
  if (!newest || excess < 0) return null;
  const delay = Math.min(rule.baseDelayMs * 2 ** Math.min(excess, 30), rule.maxDelayMs);
  const at = new Date(newest.getTime() + delay);
  return at > now ? at : null;
}

/** A wait as people say it: "45 seconds", "3 minutes". */
export function describeWait(ms: number): string {
  const seconds = Math.max(1, Math.ceil(ms / 1000));
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
