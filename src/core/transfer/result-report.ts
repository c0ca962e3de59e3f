/**
 * One verdict per batch item from a whole-result check, in words for people: the portal's
 * import page and `keysign inspect RESULT --batch BATCH` print the same verdicts, so the
 * officer learns at the signing machine what the portal would say.
 */
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import type { BatchItem, BatchPayload } from "./formats.ts";
import type { ResultCheck, ResultProblem } from "./result-check.ts";

export interface ItemVerdict {
  /** Null for problems of the result as a whole. */
  itemId: string | null;
  /** Who and which key: the first user ID and the fingerprint in groups of four. */
  label: string;
  /** "certified", "revoked", "declined", "refused", or "good" for an item without problems in a refused result. */
  verdict: string;
  /** What happened or what is wrong, one line each. */
  details: string[];
}

export function itemLabel(item: BatchItem): string {
  const more = item.userIds.length > 1 ? ` and ${item.userIds.length - 1} more user ID(s)` : "";
  return `${item.userIds[0] ?? "(no user ID)"}${more}, key ${formatFingerprint(item.fingerprint)}`;
}

export function resultVerdicts(batch: BatchPayload, check: ResultCheck): ItemVerdict[] {
  const problems = check.ok ? [] : check.problems;
  const whole = problems.filter((problem) => problem.itemId === null || !batch.items.some((item) => item.id === problem.itemId));
  const verdicts: ItemVerdict[] = whole.length > 0 ? [{ itemId: null, label: "The result as a whole", verdict: "refused", details: whole.map(describe) }] : [];
  for (const item of batch.items) {
    const own = problems.filter((problem) => problem.itemId === item.id);
    verdicts.push({ itemId: item.id, label: itemLabel(item), ...(own.length > 0 ? { verdict: "refused", details: own.map(describe) } : outcome(item, check)) });
  }
  return verdicts;
}

function outcome(item: BatchItem, check: ResultCheck): { verdict: string; details: string[] } {
  const found = check.ok ? check.outcomes.find((entry) => entry.item.id === item.id) : undefined;
  if (found === undefined) return { verdict: "good", details: ["no problem found in this item"] };
  if (found.kind === "declined") return { verdict: "declined", details: [found.reason] };
  if (found.kind === "revoked") return { verdict: "revoked", details: found.revocations.map((entry) => `revoked ${entry.userId}`) };
  return { verdict: "certified", details: found.userIds.map((entry) => `certified ${entry.userId}, with its sealed revocation`) };
}

function describe(problem: ResultProblem): string {
  return `${problem.rule}: ${problem.message}`;
}
