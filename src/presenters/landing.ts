import { PRIMARY_ALGORITHM_NAMES, type AcceptedKeyPolicy } from "../core/key-policy.ts";
import { GPL_COMPATIBLE_LICENCES } from "../core/submission.ts";

export const AGREEMENT_TEMPLATE_PATH = "/public/keysign-agreement.pdf";

/** No figure is measured: a plain promise the review quorum can keep, said once here. */
const REVIEW_TIME = "a few working days";

/** The address in the start page's commands: the visitor's own is not known before they sign in. */
const EXAMPLE_USER_ID = "Your Name <you@example.org>";
const EXAMPLE_ADDRESS = "you@example.org";

export interface LandingInput {
  policy: AcceptedKeyPolicy;
  /** Approvals a request needs (the quorum setting). */
  approvalsRequired: number;
  /** SIGNING_SCHEDULE: how it completes "Signing ceremonies are held …"; empty when not set. */
  schedule: string;
}

export function landingModel(input: LandingInput) {
  return {
    title: "Module signing keys for FreePBX",
    agreementUrl: AGREEMENT_TEMPLATE_PATH,
    licences: GPL_COMPATIBLE_LICENCES.map((l) => ({ id: l.id, name: l.name })),
    acceptedKeys: acceptedKeyLines(input.policy),
    keyRules: keyRuleLines(input.policy),
    reviewTime: reviewSentence(input.approvalsRequired),
    ceremonyTime: input.schedule === "" ? "Signing ceremonies are held offline from time to time; we email you as soon as your key is certified." : `Signing ceremonies are held ${input.schedule}.`,
    commands: {
      generate: `gpg --quick-generate-key "${EXAMPLE_USER_ID}" ${gpgAlgorithm(input.policy)} sign 2y`,
      export: `gpg --armor --export ${EXAMPLE_ADDRESS} > key.asc`,
      sign: `gpg --local-user ${EXAMPLE_ADDRESS} --armor --detach-sign agreement.pdf`,
    },
  };
}

/** One line per accepted primary algorithm; RSA with its sizes. */
export function acceptedKeyLines(policy: AcceptedKeyPolicy): string[] {
  return policy.algorithms.map((id) => {
    if (id !== "rsa") return PRIMARY_ALGORITHM_NAMES[id];
    const range = `${PRIMARY_ALGORITHM_NAMES.rsa} of ${policy.minRsaBits} to ${policy.maxRsaBits} bits`;
    return policy.minRsaBits < policy.rsaWarnBelowBits ? `${range} (${policy.rsaWarnBelowBits} or more recommended)` : range;
  });
}

function keyRuleLines(policy: AcceptedKeyPolicy): string[] {
  return [
    "A version 4 key, as GnuPG 2.2 and 2.4 make by default: FreePBX checks modules with GnuPG 2.2, which cannot read newer key versions.",
    "The key, or one of its subkeys, can sign.",
    "Not expired or revoked, with self-signatures made with SHA-256 or stronger (not SHA-1).",
    `At most ${policy.maxUserIds} user IDs and ${policy.maxSubkeys} subkeys, and at most ${sizeInWords(policy.maxUploadBytes)} as uploaded.`,
  ];
}

function sizeInWords(bytes: number): string {
  const mebibyte = 1024 * 1024;
  return bytes % mebibyte === 0 ? `${bytes / mebibyte} MiB` : `${Math.floor(bytes / 1024)} KiB`;
}

/** The command's algorithm: Ed25519 when the policy takes it, else RSA at the recommended size. */
function gpgAlgorithm(policy: AcceptedKeyPolicy): string {
  if (policy.algorithms.includes("ed25519")) return "ed25519";
  return `rsa${Math.max(policy.minRsaBits, policy.rsaWarnBelowBits)}`;
}

function reviewSentence(required: number): string {
  const who = required === 1 ? "A staff member checks" : `${required} different staff members check`;
  return `${who} your key and your signed agreement, usually within ${REVIEW_TIME}. If something needs fixing, they ask you by email.`;
}
