import type handlebars from "handlebars";
import { STATE_LABELS, isRequestState } from "../core/request-lifecycle.ts";

type Engine = typeof handlebars;

export function formatFingerprintGroups(fingerprint: string): string {
  return fingerprint.replace(/(.{4})(?!$)/g, "$1 ");
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

/** Template helpers. All return plain strings, which Handlebars escapes like any other value. */
export function registerHelpers(engine: Engine): void {
  engine.registerHelper("eq", (a: unknown, b: unknown) => a === b);
  engine.registerHelper("date", (value: Date | null) => formatDate(value));
  engine.registerHelper("datetime", (value: Date | null) => formatDateTime(value));
  engine.registerHelper("fingerprint", (value: string) => formatFingerprintGroups(value));
  engine.registerHelper("bytes", (value: number) => formatBytes(value));
  engine.registerHelper("stateLabel", (value: string) => (isRequestState(value) ? STATE_LABELS[value] : value));
  engine.registerHelper("includes", (list: unknown, value: unknown) => Array.isArray(list) && list.includes(value));
  engine.registerHelper("fieldError", (problems: unknown, field: string) => {
    if (!Array.isArray(problems)) return "";
    return problems
      .filter((p): p is { field: string; message: string } => typeof p === "object" && p !== null && p.field === field)
      .map((p) => p.message)
      .join(" ");
  });
}
