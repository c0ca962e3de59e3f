/**
 * Everything a result must satisfy before the portal applies any of it. The check is pure:
 * given the batch as exported and the result's payload, it returns either every item's
 * verified signatures or a report naming each broken rule and the item it broke on.
 */
import { readKey, type Config, type PublicKey, type PublicKeyPacket } from "openpgp";
import { checkCertification, checkRevocation, userIdBytes, type RuleFailure } from "./certification.ts";
import { batchRevocationText, sealedRevocationText } from "./revocation-text.ts";
import { isCertifying, type BatchItem, type BatchPayload, type CertifyingItem, type ResultItem, type ResultPayload, type RevokeItem } from "./formats.ts";

/**
 * The offline machine's clock may run a little ahead of the portal's. Signatures dated up to
 * this far past the import are accepted (never past the batch's expiry).
 */
export const CLOCK_SKEW_MS = 10 * 60_000;

export interface ResultProblem extends RuleFailure {
  /** The batch item the rule broke on, or null for the result as a whole. */
  itemId: string | null;
}

export interface VerifiedCertification {
  userId: string;
  certification: Uint8Array;
  revocation: Uint8Array;
  certifiedAt: Date;
}

export type VerifiedOutcome =
  | { kind: "certified"; item: CertifyingItem; userIds: VerifiedCertification[] }
  | { kind: "revoked"; item: RevokeItem; revocations: { userId: string; revocation: Uint8Array }[] }
  | { kind: "declined"; item: BatchItem; reason: string };

export interface ResultExpectations {
  batch: BatchPayload;
  batchSha256: string;
  master: PublicKey;
  now: Date;
  config: Config;
}

export type ResultCheck = { ok: true; outcomes: VerifiedOutcome[] } | { ok: false; problems: ResultProblem[] };

export async function checkResult(result: ResultPayload, expected: ResultExpectations): Promise<ResultCheck> {
  const problems = headerProblems(result, expected);
  if (problems.length > 0) return { ok: false, problems };
  const byId = new Map<string, ResultItem[]>();
  for (const item of result.items) byId.set(item.id, [...(byId.get(item.id) ?? []), item]);
  for (const id of byId.keys()) {
    if (!expected.batch.items.some((item) => item.id === id)) problems.push(problem(id, "item", "the result names an item that is not in the batch"));
  }
  const outcomes: VerifiedOutcome[] = [];
  for (const item of expected.batch.items) {
    const answers = byId.get(item.id) ?? [];
    const [answer] = answers;
    if (answers.length !== 1 || answer === undefined) {
      problems.push(problem(item.id, "item", answers.length === 0 ? "the result does not answer this item (partially signed result)" : "the result answers this item more than once"));
      continue;
    }
    const checked = await checkItem(item, answer, expected);
    if ("problems" in checked) problems.push(...checked.problems);
    else outcomes.push(checked);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, outcomes };
}

function headerProblems(result: ResultPayload, expected: ResultExpectations): ResultProblem[] {
  const problems: ResultProblem[] = [];
  if (result.batch !== expected.batch.batch) problems.push(problem(null, "batch", `the result is for batch ${result.batch}, not batch ${expected.batch.batch}`));
  if (result.batchSha256 !== expected.batchSha256) problems.push(problem(null, "batch", "the result was made from a different batch file than the one exported"));
  if (result.master !== expected.master.getFingerprint().toUpperCase()) problems.push(problem(null, "master", "the result names another master key"));
  return problems;
}

async function checkItem(item: BatchItem, answer: ResultItem, expected: ResultExpectations): Promise<VerifiedOutcome | { problems: ResultProblem[] }> {
  if (answer.status === "declined") return { kind: "declined", item, reason: answer.reason };
  const key = await readTarget(item);
  if (key === null) return { problems: [problem(item.id, "target", "the batch's key for this item cannot be read")] };
  const latest = new Date(expected.now.getTime() + CLOCK_SKEW_MS);
  const window = { master: expected.master, notBefore: new Date(expected.batch.createdAt), notAfter: minDate(new Date(expected.batch.expiresAt), latest), config: expected.config };
  const organisation = expected.batch.organisation;
  if (isCertifying(item) && answer.status === "certified") return checkCertified(item, answer.userIds, key, { ...window, organisation });
  if (item.kind === "revoke" && answer.status === "revoked") return checkRevoked(item, answer.revocations, key, { ...window, organisation });
  return { problems: [problem(item.id, "status", `a ${item.kind} item cannot come back as "${answer.status}"`)] };
}

type Window = Omit<Parameters<typeof checkCertification>[1], "target"> & { organisation: string };

/** A certification and its sealed revocation never share a second: GnuPG 2.2 would order them by packet position. */
const SEALED_AFTER_MS = 1000;

async function checkCertified(
  item: CertifyingItem,
  signed: ReadonlyArray<{ userId: string; certification: string; revocation: string }>,
  key: PublicKeyPacket,
  window: Window,
): Promise<VerifiedOutcome | { problems: ResultProblem[] }> {
  const problems = userIdSetProblems(item, signed.map((entry) => entry.userId));
  const verified: VerifiedCertification[] = [];
  for (const entry of signed) {
    if (!item.userIds.includes(entry.userId)) continue;
    const target = { key, userId: userIdBytes(entry.userId) };
    const certification = await checkCertification(decode(entry.certification), { ...window, target }, item.certification);
    if (!certification.ok) {
      problems.push(problem(item.id, certification.failure.rule, `certification of ${quote(entry.userId)}: ${certification.failure.message}`));
      continue;
    }
    const certifiedAt = certification.signature.packet.created ?? new Date(Number.NaN);
    const sealed = { notBefore: new Date(certifiedAt.getTime() + SEALED_AFTER_MS), reason: sealedRevocationText(window.organisation, item.statusUrl) };
    const revocation = await checkRevocation(decode(entry.revocation), { ...window, target }, sealed);
    if (!revocation.ok) {
      problems.push(problem(item.id, revocation.failure.rule, `sealed revocation of ${quote(entry.userId)}: ${revocation.failure.message}`));
      continue;
    }
    verified.push({ userId: entry.userId, certification: certification.packet, revocation: revocation.packet, certifiedAt });
  }
  return problems.length > 0 ? { problems } : { kind: "certified", item, userIds: orderLike(item.userIds, verified) };
}

async function checkRevoked(
  item: RevokeItem,
  revocations: ReadonlyArray<{ userId: string; revocation: string }>,
  key: PublicKeyPacket,
  window: Window,
): Promise<VerifiedOutcome | { problems: ResultProblem[] }> {
  const problems = userIdSetProblems(item, revocations.map((entry) => entry.userId));
  const verified: { userId: string; revocation: Uint8Array }[] = [];
  const wanted = { notBefore: window.notBefore, reason: batchRevocationText(window.organisation, item.reason, item.statusUrl) };
  for (const entry of revocations) {
    if (!item.userIds.includes(entry.userId)) continue;
    const checked = await checkRevocation(decode(entry.revocation), { ...window, target: { key, userId: userIdBytes(entry.userId) } }, wanted);
    if (checked.ok) verified.push({ userId: entry.userId, revocation: checked.packet });
    else problems.push(problem(item.id, checked.failure.rule, `revocation of ${quote(entry.userId)}: ${checked.failure.message}`));
  }
  return problems.length > 0 ? { problems } : { kind: "revoked", item, revocations: orderLike(item.userIds, verified) };
}

/** Exactly the approved user IDs, each once: nothing unapproved, nothing missing. */
function userIdSetProblems(item: BatchItem, returned: readonly string[]): ResultProblem[] {
  const problems: ResultProblem[] = [];
  for (const userId of new Set(returned)) {
    if (!item.userIds.includes(userId)) problems.push(problem(item.id, "user-id", `${quote(userId)} was not approved for this key`));
  }
  for (const userId of item.userIds) {
    const count = returned.filter((entry) => entry === userId).length;
    if (count === 0) problems.push(problem(item.id, "user-id", `${quote(userId)} was approved but is missing from the result (partially signed item)`));
    if (count > 1) problems.push(problem(item.id, "user-id", `${quote(userId)} appears more than once`));
  }
  return problems;
}

async function readTarget(item: BatchItem): Promise<PublicKeyPacket | null> {
  try {
    const key = await readKey({ binaryKey: decode(item.key) });
    return key.getFingerprint().toUpperCase() === item.fingerprint ? (key.keyPacket as PublicKeyPacket) : null;
  } catch {
    return null;
  }
}

function orderLike<T extends { userId: string }>(order: readonly string[], entries: T[]): T[] {
  return [...entries].sort((a, b) => order.indexOf(a.userId) - order.indexOf(b.userId));
}

function decode(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

function minDate(a: Date, b: Date): Date {
  return a < b ? a : b;
}

function quote(userId: string): string {
  return JSON.stringify(userId);
}

function problem(itemId: string | null, rule: string, message: string): ResultProblem {
  return { itemId, rule, message };
}
