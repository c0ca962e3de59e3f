/**
 * What the officer reads about a batch or a result. Every string from a file is hostile until
 * its signature is checked (and `inspect` shows unchecked files too), so control, format and
 * bidi characters are shown as escapes and never reach the terminal.
 */
import { formatFingerprint, type KeyFacts } from "../core/key-policy.ts";
import { sha256Lines } from "../core/sha256-display.ts";
import type { BatchItem, BatchPayload, RecertifyItem, Renews, ResultItem, ResultPayload } from "../core/transfer/formats.ts";
import { batchRevocationText } from "../core/transfer/revocation-text.ts";
import type { ItemReview } from "../core/transfer/sign-batch.ts";

/** The text with C0/C1 controls, format characters (bidi, zero-width) and line separators escaped. */
export function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (character) => `\\u{${(character.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`);
}

const LABEL_WIDTH = 12;

function row(label: string, values: readonly string[], indent = "      "): string[] {
  const [first = "", ...rest] = values;
  const pad = " ".repeat(LABEL_WIDTH);
  return [`${indent}${label.padEnd(LABEL_WIDTH)}${first}`, ...rest.map((value) => `${indent}${pad}${value}`)];
}

/** A file's SHA-256 under its label, grouped exactly as the portal's signing pages show it. */
export function sha256Row(label: string, hex: string, indent = ""): string[] {
  return row(label, sha256Lines(hex), indent);
}

export function batchHeader(batch: BatchPayload): string[] {
  const kinds = (kind: BatchItem["kind"]) => batch.items.filter((item) => item.kind === kind).length;
  return [
    ...row("Batch", [String(batch.batch)], ""),
    ...row("Portal", [printable(batch.portal)], ""),
    ...row("For", [printable(batch.organisation)], ""),
    ...row("Created", [batch.createdAt], ""),
    ...row("Expires", [batch.expiresAt], ""),
    ...row("Queue key", [formatFingerprint(batch.queueKey)], ""),
    ...row("Master", [formatFingerprint(batch.master)], ""),
    ...row("Items", [`${batch.items.length} (${kinds("certify")} to certify, ${kinds("revoke")} to revoke${recertifyCount(kinds("recertify"))})`], ""),
    ...renewalCount(batch),
  ];
}

/** How many of the certify items renew a certification: the same key and user IDs again, with a new expiry. */
function renewalCount(batch: BatchPayload): string[] {
  const renewals = batch.items.filter((item) => item.kind === "certify" && item.renews !== undefined).length;
  return renewals === 0 ? [] : row("Renewals", [`${renewals} of the items to certify renew a certification (same key and user IDs, new expiry)`], "");
}

function renewalRow(renews: Renews): string[] {
  const until = renews.expiresAt === null ? "which does not expire" : `which expires ${renews.expiresAt.slice(0, 10)}`;
  return row("Renewal of", [`request ${renews.requestId}, ${until}`, "the new certification gets a new expiry; the old one is kept"]);
}

/** One batch item, numbered, with the signer's own check when there is one. */
export function batchItem(item: BatchItem, position: string, review: ItemReview | null, organisation: string): string[] {
  const heading =
    item.kind === "recertify"
      ? `[${position}] recertify request ${item.requestId}  (item ${item.id}, now certified by ${formatFingerprint(item.previousMaster)})`
      : item.kind === "certify"
      ? `[${position}] certify  request ${item.requestId}  (item ${item.id}, revision ${item.revision})`
      : `[${position}] revoke   request ${item.requestId}  (item ${item.id})`;
  const lines = [
    heading,
    ...row("Key", [`${formatFingerprint(item.fingerprint)}${review?.facts ? `  ${keyDescription(review.facts)}` : ""}`]),
    ...row("User IDs", item.userIds.map(printable)),
    ...row("Approvals", item.approvals.length === 0 ? ["none"] : item.approvals.map((approval) => `${printable(approval.staff)} at ${approval.at}`)),
  ];
  if (item.kind === "recertify") {
    lines.push(...recertifyLines(item));
  } else if (item.kind === "certify") {
    const { validityDays, policyUrl, notations } = item.certification;
    lines.push(...row("Certify as", [`valid ${validityDays} days`, `policy ${policyUrl ? printable(policyUrl) : "(none)"}`, ...notations.map((n) => `notation ${printable(n.name)}=${printable(n.value)}`)]));
    if (item.renews) lines.push(...renewalRow(item.renews));
    if (item.history.length > 0) {
      lines.push(...row("!! REVOKED", item.history.map((past) => `before, on ${past.revokedAt.slice(0, 10)}: ${printable(past.reason)}`)));
    }
  } else {
    const text = batchRevocationText(organisation, item.reason, item.statusUrl);
    lines.push(...row("Revoke", [`${item.certifications.length} certification(s), published as:`, printable(text)]));
  }
  if (review) {
    if (review.warnings.length > 0) lines.push(...row("Warnings", review.warnings.map(printable)));
    lines.push(...row("Check", [review.refusal === null ? "OK" : `REFUSED: ${printable(review.refusal)}`]));
  }
  return lines;
}

function recertifyCount(count: number): string {
  return count === 0 ? "" : `, ${count} to re-certify with this master`;
}

/** A re-certification: what it repeats, and that it lapses no later than the certification it repeats. */
function recertifyLines(item: RecertifyItem): string[] {
  const { validityDays, policyUrl, notations } = item.certification;
  const lapses = item.previousExpiresAt === null ? "the certification it repeats does not expire" : `the certification it repeats lapses ${item.previousExpiresAt.slice(0, 10)}`;
  return row("Re-certify", [
    `valid ${validityDays} days (${lapses})`,
    `policy ${policyUrl ? printable(policyUrl) : "(none)"}`,
    ...notations.map((n) => `notation ${printable(n.name)}=${printable(n.value)}`),
  ]);
}

function keyDescription(facts: KeyFacts): string {
  const expiry = facts.expiresAt ? `expires ${facts.expiresAt.toISOString().slice(0, 10)}` : "does not expire";
  return `${facts.algorithm}, created ${facts.createdAt.toISOString().slice(0, 10)}, ${expiry}`;
}

export function resultSummary(result: ResultPayload): string[] {
  const count = (status: ResultItem["status"]) => result.items.filter((item) => item.status === status).length;
  const lines = [
    ...row("Result for", [`batch ${result.batch}`], ""),
    ...row("Batch file", sha256Lines(result.batchSha256).map((line, index) => `${index === 0 ? "SHA-256" : "       "} ${line}`), ""),
    ...row("Master", [formatFingerprint(result.master)], ""),
    ...row("Signed", [result.signedAt], ""),
    ...row("Items", [`${result.items.length}: ${count("certified")} certified, ${count("revoked")} revoked, ${count("declined")} declined`], ""),
  ];
  result.items.forEach((item, index) => lines.push(...resultItem(item, `${index + 1}/${result.items.length}`)));
  return lines;
}

function resultItem(item: ResultItem, position: string): string[] {
  const heading = `[${position}] ${item.status.padEnd(9)} item ${item.id}`;
  if (item.status === "certified") return [heading, ...row("Certified", item.userIds.map((entry) => `${printable(entry.userId)} (with sealed revocation)`))];
  if (item.status === "revoked") return [heading, ...row("Revoked", item.revocations.map((entry) => printable(entry.userId)))];
  return [heading, ...row("Reason", [printable(item.reason)])];
}
