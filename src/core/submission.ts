import type { RequestState } from "./request-lifecycle.ts";

/**
 * The applicant's declarations on a request: licence, project URLs and the
 * programme's attestations. Pure checks; each problem names its form field.
 */

/** GPL-compatible licences (SPDX ids) a module may be published under. */
export const GPL_COMPATIBLE_LICENCES: ReadonlyArray<{ id: string; name: string }> = [
  { id: "GPL-3.0-or-later", name: "GNU General Public License v3.0 or later" },
  { id: "GPL-3.0-only", name: "GNU General Public License v3.0 only" },
  { id: "GPL-2.0-or-later", name: "GNU General Public License v2.0 or later" },
  { id: "GPL-2.0-only", name: "GNU General Public License v2.0 only" },
  { id: "AGPL-3.0-or-later", name: "GNU Affero General Public License v3.0 or later" },
  { id: "AGPL-3.0-only", name: "GNU Affero General Public License v3.0 only" },
  { id: "LGPL-3.0-or-later", name: "GNU Lesser General Public License v3.0 or later" },
  { id: "LGPL-3.0-only", name: "GNU Lesser General Public License v3.0 only" },
  { id: "LGPL-2.1-or-later", name: "GNU Lesser General Public License v2.1 or later" },
  { id: "LGPL-2.1-only", name: "GNU Lesser General Public License v2.1 only" },
  { id: "MPL-2.0", name: "Mozilla Public License 2.0" },
  { id: "Apache-2.0", name: "Apache License 2.0 (GPL-3.0 compatible)" },
  { id: "MIT", name: "MIT License" },
  { id: "BSD-3-Clause", name: "BSD 3-Clause License" },
  { id: "BSD-2-Clause", name: "BSD 2-Clause License" },
  { id: "ISC", name: "ISC License" },
  { id: "Zlib", name: "zlib License" },
];

export const MAX_PROJECT_URLS = 5;
const MAX_URL_LENGTH = 300;

export interface Declarations {
  licence: string;
  projectUrls: string[];
  attestOpenSource: boolean;
  attestNotCommercial: boolean;
  attestAgreement: boolean;
}

export interface FieldProblem {
  field: string;
  code: string;
  message: string;
}

export interface DeclarationInput {
  licence: string;
  projectUrls: string;
  attestOpenSource: boolean;
  attestNotCommercial: boolean;
  attestAgreement: boolean;
}

export function checkDeclarations(input: DeclarationInput): { declarations: Declarations; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  if (!GPL_COMPATIBLE_LICENCES.some((licence) => licence.id === input.licence)) {
    problems.push({ field: "licence", code: "KEYSIGN_ERR_LICENCE", message: "Choose the licence your modules are published under from the list of GPL-compatible licences." });
  }
  const { urls, problem } = parseProjectUrls(input.projectUrls);
  if (problem) problems.push(problem);
  const attestations: Array<[keyof DeclarationInput, string]> = [
    ["attestOpenSource", "Confirm that your modules are open source under the licence you chose."],
    ["attestNotCommercial", "Confirm that you will not sign commercial modules with this key."],
    ["attestAgreement", "Confirm that you have read and signed the Key Signing Agreement."],
  ];
  for (const [field, message] of attestations) {
    if (input[field] !== true) problems.push({ field, code: "KEYSIGN_ERR_ATTESTATION", message });
  }
  return {
    declarations: {
      licence: input.licence,
      projectUrls: urls,
      attestOpenSource: input.attestOpenSource,
      attestNotCommercial: input.attestNotCommercial,
      attestAgreement: input.attestAgreement,
    },
    problems,
  };
}

function parseProjectUrls(text: string): { urls: string[]; problem: FieldProblem | null } {
  const lines = text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
  const fail = (message: string) => ({ urls: lines, problem: { field: "projectUrls", code: "KEYSIGN_ERR_PROJECT_URL", message } });
  if (lines.length === 0) return fail("Give the address of at least one project or source repository, one per line.");
  if (lines.length > MAX_PROJECT_URLS) return fail(`Give at most ${MAX_PROJECT_URLS} project addresses.`);
  for (const line of lines) {
    if (!isPublicWebUrl(line)) return fail(`"${line.slice(0, 80)}" is not a web address. Use a full address such as https://github.com/you/module.`);
  }
  return { urls: [...new Set(lines)], problem: null };
}

function isPublicWebUrl(value: string): boolean {
  if (value.length > MAX_URL_LENGTH || /[\s\p{Cc}\p{Cf}]/u.test(value)) return false;
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.hostname.includes(".") && !url.username && !url.password;
  } catch {
    return false;
  }
}

/**
 * Requests still on their way to a certification. A key has at most one open request at a time
 * (whoever submits it), and an applicant at most the `openRequestsPerApplicant` setting.
 * Certified requests are closed too: a certified key may be submitted again (to renew its
 * certification or certify more user IDs), which the reviewers see in its history.
 */
export const OPEN_REQUEST_STATES = ["submitted", "in_review", "changes_requested", "approved", "queued", "exported"] as const satisfies readonly RequestState[];

export const SUBMISSION_CODES = Object.freeze({
  keyOpenHere: "KEYSIGN_ERR_KEY_OPEN_REQUEST",
  keyOpenElsewhere: "KEYSIGN_ERR_KEY_OPEN_ELSEWHERE",
  tooManyOpen: "KEYSIGN_ERR_TOO_MANY_OPEN_REQUESTS",
  formToken: "KEYSIGN_ERR_FORM_TOKEN",
});

export const submissionMessages = {
  keyOpenHere: (requestPath: string, state: string) =>
    `You already have an open request for this key (${state.toLowerCase()}): ${requestPath}. Follow it there; withdraw it first if you want to start again.`,
  keyOpenElsewhere: () =>
    "This key already has an open certification request from another account, so it is not taken again until that request is decided or withdrawn. If the key is yours and you did not submit it, tell the portal's staff.",
  tooManyOpen: (limit: number) =>
    `You already have ${limit} open ${limit === 1 ? "request" : "requests"}, the most one account may have at a time. Wait until one is decided, or withdraw one you no longer need, then submit this one.`,
  formToken: () => "This form is out of date (it was opened more than a day ago or in another session). Choose the files again and submit it from this page.",
};
