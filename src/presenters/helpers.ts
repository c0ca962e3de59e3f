import { STATE_LABELS, type RequestState } from "../core/request-lifecycle.ts";
import { certificationState } from "../core/publication/key-status.ts";
import type handlebars from "handlebars";
import { formatFingerprint, type KeyFacts, type PolicyProblem } from "../core/key-policy.ts";

type Engine = typeof handlebars;

/** The facts every page shows of a key: the applicant's form and request page, and the review page. */
export function keySummary(facts: KeyFacts, warnings: readonly PolicyProblem[]) {
  return {
    fingerprint: formatFingerprint(facts.fingerprint),
    algorithm: facts.algorithm,
    created: formatDate(facts.createdAt),
    expires: formatDate(facts.expiresAt),
    warnings: warnings.map((w) => w.message),
    subkeys: facts.subkeys.map((s) => ({
      fingerprint: formatFingerprint(s.fingerprint),
      algorithm: s.algorithm,
      capabilities: s.capabilities.join(", "),
      expires: formatDate(s.expiresAt),
    })),
  };
}

export function formatDate(value: Date | null | undefined): string {
  return value ? value.toISOString().slice(0, 10) : "never";
}

export function formatDateTime(value: Date | null | undefined): string {
  return value ? `${value.toISOString().slice(0, 16).replace("T", " ")} UTC` : "";
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

/** Escaped text with each balanced backtick span as `<code>`; an unbalanced backtick is left as it is. */
export function codeSpans(text: string, escape: (text: string) => string): string {
  const parts = text.split("`");
  if (parts.length % 2 === 0) return escape(text);
  return parts.map((part, index) => (index % 2 === 1 ? `<code>${escape(part)}</code>` : escape(part))).join("");
}

/**
 * Template helpers. Formatting is done by the presenters, so helpers stay few and their
 * names never shadow a view-model property. All return plain values, escaped as usual,
 * except `withCode`, which escapes its text itself.
 */
export function registerHelpers(engine: Engine): void {
  engine.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  // A message's `commands` become code, so no reader sees Markdown's backticks; everything is escaped.
  engine.registerHelper("withCode", (text: unknown) => new engine.SafeString(codeSpans(String(text ?? ""), engine.escapeExpression)));
  // Builds a command from fixed words and the page's values (`{{> command text=(concat "gpg --import " file)}}`); escaped as usual.
  engine.registerHelper("concat", (...args: unknown[]) => args.slice(0, -1).map(String).join(""));
  engine.registerHelper("fieldError", (problems: unknown, field: string) => {
    if (!Array.isArray(problems)) return "";
    return problems
      .filter((p): p is { field: string; message: string } => typeof p === "object" && p !== null && p.field === field)
      .map((p) => p.message)
      .join(" ");
  });
  /**
   * A form control's description (its hint, when it has one) and, when its field failed, the
   * invalid mark and its message (the field-error partial's id), so a screen reader reads both.
   */
  engine.registerHelper("fieldState", (problems: unknown, field: string, ...rest: unknown[]) => {
    const hint = typeof rest[0] === "string" ? rest[0] : "";
    const failed = Array.isArray(problems) && problems.some((p: unknown) => typeof p === "object" && p !== null && "field" in p && p.field === field);
    const described = [hint, failed ? `${field}-error` : ""].filter(Boolean).join(" ");
    const attributes = `${failed ? ' aria-invalid="true"' : ""}${described ? ` aria-describedby="${engine.escapeExpression(described)}"` : ""}`;
    return new engine.SafeString(attributes);
  });
}

/**
 * A request's state as people see it: a certified request whose certification has lapsed shows
 * as expired (it is not revoked, and the stored state stays "certified"), with its expiry date.
 */
export function requestStateView(state: RequestState, expiresAt: Date | null, now: Date) {
  const expired = state === "certified" && certificationState(null, expiresAt, now) === "expired";
  return {
    state: expired ? "expired" : state,
    stateLabel: expired ? "Certification expired" : STATE_LABELS[state],
    certificationExpires: state === "certified" && expiresAt ? { date: formatDate(expiresAt), expired } : null,
  };
}
