/**
 * The key intake policy's entry points: `inspectKey` for uploads and `canonicalizeKey` for
 * the exact bytes that go to the database, the signer and publication.
 */
import { createHash } from "node:crypto";
import { armor, enums } from "openpgp";
import { KeysignError } from "../../errors.ts";
import { inspectionConfig } from "../openpgp-config.ts";
import { writeCanonical } from "./canonical.ts";
import { evaluateKey, type Evaluation, type KeptUserId } from "./evaluate.ts";
import { readUpload } from "./intake.ts";
import { FINGERPRINT_PLACEHOLDER, messages, quoteText } from "./messages.ts";
import { TAG, type Packet } from "./packets.ts";
import { v4Fingerprint } from "./fingerprint.ts";
import { LIMITS, type CanonicalKey, type InspectResult, type KeyFacts, type KeyPolicyOptions, type PolicyProblem } from "./types.ts";

/** Thrown by `canonicalizeKey`; carries every problem found, each with its stable code. */
export class KeyPolicyError extends KeysignError {
  override name = "KeyPolicyError";
  constructor(readonly problems: readonly PolicyProblem[]) {
    const first = problems[0] ?? messages.malformed("no details");
    super(first.code, first.message, 400);
  }
}

export type EvaluatedUpload = { ok: true; evaluation: Evaluation } | { ok: false; problems: PolicyProblem[] };

/** Intake and evaluation shared by every entry point, so each re-checks the same rules. */
export async function evaluateUpload(upload: Uint8Array, options: KeyPolicyOptions): Promise<EvaluatedUpload> {
  const config = inspectionConfig({ minRsaBits: options.minRsaBits });
  const intake = await readUpload(upload, config);
  if (!intake.ok) return { ok: false, problems: [intake.problem] };
  const evaluated = await evaluateKey(intake.packets, options, config);
  if (evaluated.ok) return evaluated;
  // The key was read, so the commands in its problems can name it instead of a placeholder.
  const fingerprint = primaryFingerprint(intake.packets);
  return fingerprint === null ? evaluated : { ok: false, problems: evaluated.problems.map((problem) => namingKey(problem, fingerprint)) };
}

/** The primary key's fingerprint, or null when there is no v4 primary key packet. */
function primaryFingerprint(packets: readonly Packet[]): string | null {
  const primary = packets.find((packet) => packet.tag === TAG.publicKey);
  return primary ? v4Fingerprint(primary) : null;
}

function namingKey(problem: PolicyProblem, fingerprint: string): PolicyProblem {
  return { ...problem, message: problem.message.replaceAll(FINGERPRINT_PLACEHOLDER, fingerprint) };
}

export async function inspectKey(upload: Uint8Array, options: KeyPolicyOptions): Promise<InspectResult> {
  const evaluated = await evaluateUpload(upload, options);
  if (!evaluated.ok) return evaluated;
  const { evaluation } = evaluated;
  const minimal = writeCanonical(evaluation, evaluation.userIds);
  if (minimal.length > LIMITS.maxCanonicalBytes) return { ok: false, problems: [messages.canonicalTooLarge(minimal.length)] };
  return { ok: true, facts: keyFacts(evaluation), warnings: evaluation.warnings, minimal };
}

/**
 * The canonical copy for exactly `userIds` (each one of the key's valid user IDs; written in
 * key order whatever the order asked). The key is evaluated again at `options.now`, so a key
 * that expired or was revoked since upload is refused here too.
 */
export async function canonicalizeKey(minimal: Uint8Array, userIds: string[], options: KeyPolicyOptions): Promise<CanonicalKey> {
  const evaluated = await evaluateUpload(minimal, options);
  if (!evaluated.ok) throw new KeyPolicyError(evaluated.problems);
  const { evaluation } = evaluated;
  const selected = selectUserIds(evaluation.userIds, userIds);
  const binary = writeCanonical(evaluation, selected);
  if (binary.length > LIMITS.maxCanonicalBytes) throw new KeyPolicyError([messages.canonicalTooLarge(binary.length)]);
  const config = inspectionConfig({ minRsaBits: options.minRsaBits });
  return {
    binary,
    sha256: createHash("sha256").update(binary).digest("hex"),
    // The checksum line works around GnuPG 2.2 failing on some unpadded armor (dev.gnupg.org/T7071).
    armored: armor(enums.armor.publicKey, binary, undefined, undefined, undefined, true, config),
    fingerprint: evaluation.primary.getFingerprint().toUpperCase(),
    userIds: selected.map((user) => user.facts.userId),
  };
}

function selectUserIds(available: readonly KeptUserId[], requested: readonly string[]): KeptUserId[] {
  if (requested.length === 0) throw new KeyPolicyError([messages.userIdNoneSelected()]);
  const unknown = requested.filter((userId) => !available.some((user) => user.facts.userId === userId));
  if (unknown.length > 0) throw new KeyPolicyError(unknown.map((userId) => messages.userIdNotInKey(quoteText(userId))));
  return available.filter((user) => requested.includes(user.facts.userId));
}

function keyFacts(evaluation: Evaluation): KeyFacts {
  const subkeys = evaluation.subkeys.map((subkey) => subkey.facts);
  return {
    fingerprint: evaluation.primary.getFingerprint().toUpperCase(),
    algorithm: evaluation.algorithm.label,
    algorithmId: evaluation.algorithmId,
    bits: evaluation.algorithm.bits,
    createdAt: evaluation.primary.created,
    expiresAt: evaluation.expiresAt,
    userIds: evaluation.userIds.map((user) => user.facts),
    subkeys,
    canSign: evaluation.canSign,
    canEncrypt: evaluation.canEncrypt,
  };
}
