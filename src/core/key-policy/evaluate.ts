/**
 * Second stage of intake: judges one public key (already framed by intake) against the policy
 * and returns what may be kept. Each rule below is an explicit check with its own code;
 * none relies on a library default (see SECURITY.md on what openpgp.js lets through).
 */
import { enums, PublicKeyPacket, type Config } from "openpgp";
import { canEncryptWith, primaryAlgorithmId, readKeyAlgorithm, type KeyAlgorithm } from "./algorithms.ts";
import { createdAt, hasRevocation, isWeakHash, keyFlags, KEY_FLAG, selectNewest, TooManyFailedVerifications, VerificationBudgetExceeded, type Verifier } from "./binding.ts";
import { hashName, messages } from "./messages.ts";
import type { Packet } from "./packets.ts";
import { groupPackets, parseKeyPacket, type ParsedSignature, type SubkeyComponent } from "./structure.ts";
import { expiryOf, judgeSubkey, type KeptSubkey } from "./subkeys.ts";
import { checkUserId, displayUserId } from "./user-id.ts";
import { sortUsers, type BoundUser, type UserSorting } from "./users.ts";
import { LIMITS, type Capability, type KeyPolicyOptions, type PolicyProblem, type PrimaryAlgorithmId, type UserIdFacts } from "./types.ts";

export interface KeptUserId extends BoundUser {
  facts: UserIdFacts;
}

export interface Evaluation {
  primaryRaw: Uint8Array;
  primary: PublicKeyPacket;
  algorithm: KeyAlgorithm;
  algorithmId: PrimaryAlgorithmId;
  directSignature: ParsedSignature | null;
  userIds: KeptUserId[];
  subkeys: KeptSubkey[];
  expiresAt: Date | null;
  canSign: boolean;
  canEncrypt: boolean;
  warnings: PolicyProblem[];
}

export type EvaluationResult = { ok: true; evaluation: Evaluation } | { ok: false; problems: PolicyProblem[] };

interface Primary {
  raw: Uint8Array;
  packet: PublicKeyPacket;
  algorithm: KeyAlgorithm;
  algorithmId: PrimaryAlgorithmId;
}

const ENCRYPT_FLAGS = KEY_FLAG.encryptCommunications | KEY_FLAG.encryptStorage;

const refuse = (...problems: PolicyProblem[]): EvaluationResult => ({ ok: false, problems });

/** `packets` come from intake, which has already checked every count and size limit. */
export async function evaluateKey(packets: readonly Packet[], options: KeyPolicyOptions, config: Config): Promise<EvaluationResult> {
  try {
    return await evaluateWithinBudget(packets, options, config);
  } catch (error) {
    if (error instanceof TooManyFailedVerifications) return refuse(messages.badSelfSignatures());
    if (error instanceof VerificationBudgetExceeded) return refuse(messages.tooManyChecks());
    throw error;
  }
}

async function evaluateWithinBudget(packets: readonly Packet[], options: KeyPolicyOptions, config: Config): Promise<EvaluationResult> {
  const structure = await groupPackets(packets);
  const primary = await checkPrimary(structure.primaryRaw, options);
  if ("code" in primary) return refuse(primary);
  const verifier: Verifier = { primary: primary.packet, now: options.now, config, failures: { count: 0 }, spent: { cost: 0 } };
  const keyData = { key: primary.packet };
  if (await hasRevocation(structure.direct.signatures, enums.signature.keyRevocation, keyData, verifier)) return refuse(messages.revoked());
  const users = await sortUsers(structure, verifier);
  const direct = await selectNewest(structure.direct.signatures, [enums.signature.key], keyData, verifier, primary.packet.created);
  const directSignature = direct.state === "valid" || direct.state === "weak" ? direct.signature : null;
  const weak = weakSelfSignatures(directSignature, [...users.weak, ...users.bound]);
  if (weak.length > 0) return refuse(...weak);
  if (users.bound.length === 0) return refuse(messages.noValidUserId());
  const expiresAt = primaryExpiry(primary.packet.created, directSignature, users.bound);
  if (expiresAt !== null && expiresAt <= options.now) return refuse(messages.expired(expiresAt));
  const userIds = checkUsers(users.bound);
  if (!Array.isArray(userIds)) return refuse(...userIds.problems);
  const subkeys = await judgeSubkeys(structure.subkeys, verifier, options.minRsaBits);
  if ("problem" in subkeys) return refuse(subkeys.problem);
  const can = capabilities(primary, primaryFlags(directSignature, userIds), subkeys.kept);
  if (!can.canSign) return refuse(messages.cannotSign());
  const warnings = [...primaryWarnings(primary, expiresAt, options), ...strippingWarnings(users), ...subkeys.warnings];
  return { ok: true, evaluation: { ...primaryFields(primary), directSignature, userIds, subkeys: subkeys.kept, expiresAt, ...can, warnings } };
}

async function checkPrimary(raw: Uint8Array, options: KeyPolicyOptions): Promise<Primary | PolicyProblem> {
  const algorithm = readKeyAlgorithm(raw);
  const algorithmId = primaryAlgorithmId(algorithm);
  if (algorithm.exponentProblem !== null) return messages.rsaExponent(algorithm.exponentProblem);
  if (algorithmId === null) return messages.algorithm(algorithm.label, options.minRsaBits);
  if (algorithmId === "rsa" && algorithm.bits < options.minRsaBits) return messages.rsaTooSmall(algorithm.bits, options.minRsaBits);
  if (algorithmId === "rsa" && algorithm.bits > LIMITS.maxRsaBits) return messages.rsaTooLarge(algorithm.bits);
  const packet = await parseKeyPacket(new PublicKeyPacket(), raw);
  if (packet === null) return messages.malformed("the primary key packet is damaged");
  if (packet.created > options.now) return messages.future(packet.created);
  return { raw, packet, algorithm, algorithmId };
}

/**
 * Implementations read the expiry from different self-signatures (GnuPG: the primary user ID's,
 * openpgp.js: the primary user ID's and the direct-key one). We take the earliest of all the
 * signatures we keep, which is never later than what any of them will show.
 */
export function primaryExpiry(created: Date, direct: ParsedSignature | null, bound: readonly BoundUser[]): Date | null {
  const candidates = [direct, ...bound.map((user) => user.selfSignature)]
    .filter((signature): signature is ParsedSignature => signature !== null)
    .map((signature) => expiryOf(created, signature))
    .filter((expiry): expiry is Date => expiry !== null);
  if (candidates.length === 0) return null;
  return new Date(Math.min(...candidates.map((expiry) => expiry.getTime())));
}

/**
 * Hash rule. "On the trust path" means the signatures the canonical copy keeps: the newest
 * valid self-signature of each kept user ID, the newest direct-key signature, and for each kept
 * subkey its newest binding signature and back-signature. An older SHA-1 self-signature that
 * a newer SHA-256 one supersedes is not on the path; it is stripped, and it is not refused.
 */
function weakSelfSignatures(direct: ParsedSignature | null, users: readonly BoundUser[]): PolicyProblem[] {
  const problems: PolicyProblem[] = [];
  if (direct && isWeakHash(direct.layout.hashAlgorithm)) problems.push(messages.weakHash(hashName(direct.layout.hashAlgorithm), "direct-key self-signature"));
  for (const user of users) {
    const hash = user.selfSignature.layout.hashAlgorithm;
    if (isWeakHash(hash)) problems.push(messages.weakHash(hashName(hash), `self-signature on user ID ${displayUserId(user.raw)}`));
  }
  return problems;
}

function checkUsers(bound: readonly BoundUser[]): KeptUserId[] | { problems: PolicyProblem[] } {
  const problems: PolicyProblem[] = [];
  const kept: KeptUserId[] = [];
  for (const user of bound) {
    const checked = checkUserId(user.raw);
    if (checked.ok) kept.push({ ...user, facts: checked.facts });
    else problems.push(checked.problem);
  }
  if (problems.length > 0) return { problems };
  if (!kept.some((user) => user.facts.email !== null)) return { problems: [messages.noEmail()] };
  return kept;
}

interface SubkeyJudgement {
  kept: KeptSubkey[];
  warnings: PolicyProblem[];
}

async function judgeSubkeys(
  components: readonly SubkeyComponent[],
  verifier: Verifier,
  minRsaBits: number,
): Promise<SubkeyJudgement | { problem: PolicyProblem }> {
  const judgement: SubkeyJudgement = { kept: [], warnings: [] };
  for (const component of components) {
    const verdict = await judgeSubkey(component, verifier, minRsaBits);
    if (verdict.kind === "weak") return { problem: verdict.problem };
    if (verdict.kind === "removed") judgement.warnings.push(messages.warnSubkeyRemoved(verdict.fingerprint, verdict.reason));
    else judgement.kept.push(verdict.subkey);
  }
  return judgement;
}

/**
 * The primary's usage (key flags) comes from the direct-key signature if it states one, else from the
 * primary user ID's self-signature (the newest one flagged primary, else the first). Without
 * key flags GnuPG infers usage from the algorithm; every accepted primary algorithm can sign.
 */
function primaryFlags(direct: ParsedSignature | null, userIds: readonly KeptUserId[]): number | null {
  const source = direct && keyFlags(direct) !== null ? direct : primaryUserSignature(userIds);
  return source ? keyFlags(source) : null;
}

function capabilities(primary: Primary, flags: number | null, subkeys: readonly KeptSubkey[]): { canSign: boolean; canEncrypt: boolean } {
  const subkeyCan = (capability: Capability) => subkeys.some((subkey) => subkey.facts.capabilities.includes(capability));
  const primaryEncrypts = flags !== null && (flags & ENCRYPT_FLAGS) !== 0 && canEncryptWith(primary.algorithm);
  return {
    canSign: flags === null || (flags & KEY_FLAG.sign) !== 0 || subkeyCan("sign"),
    canEncrypt: primaryEncrypts || subkeyCan("encrypt"),
  };
}

function primaryUserSignature(userIds: readonly KeptUserId[]): ParsedSignature | null {
  const signatures = userIds.map((user) => user.selfSignature);
  const flagged = signatures
    .filter((signature) => signature.packet.isPrimaryUserID === true)
    .sort((a, b) => createdAt(b).getTime() - createdAt(a).getTime());
  return flagged[0] ?? signatures[0] ?? null;
}

function primaryFields(primary: Primary) {
  return { primaryRaw: primary.raw, primary: primary.packet, algorithm: primary.algorithm, algorithmId: primary.algorithmId };
}

function primaryWarnings(primary: Primary, expiresAt: Date | null, options: KeyPolicyOptions): PolicyProblem[] {
  const warnings: PolicyProblem[] = [];
  if (primary.algorithmId === "rsa" && primary.algorithm.bits < LIMITS.rsaWarnBelowBits) warnings.push(messages.warnRsaBelow3072(primary.algorithm.bits));
  const soon = options.now.getTime() + LIMITS.expiryWarningDays * 24 * 60 * 60 * 1000;
  if (expiresAt !== null && expiresAt.getTime() <= soon) warnings.push(messages.warnExpiresSoon(expiresAt));
  return warnings;
}

function strippingWarnings(users: UserSorting): PolicyProblem[] {
  const warnings: PolicyProblem[] = [];
  if (users.unbound.length > 0) warnings.push(messages.warnUserIdsRemoved(users.unbound.map(displayUserId), "without a valid self-signature"));
  if (users.revoked.length > 0) warnings.push(messages.warnUserIdsRemoved(users.revoked.map(displayUserId), "revoked by the key's owner"));
  if (users.attributes > 0) warnings.push(messages.warnUserAttributesRemoved(users.attributes));
  if (users.foreignSignatures > 0) warnings.push(messages.warnCertificationsRemoved(users.foreignSignatures));
  return warnings;
}
