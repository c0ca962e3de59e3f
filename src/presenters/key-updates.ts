import type { UpdateSummary } from "../core/publication/owner-update.ts";
import type { KeyUpdateRecord } from "../repositories/key-updates.ts";
import { linesOf } from "../services/owner-updates.ts";
import { formatDateTime } from "./helpers.ts";

const SOURCE_LABELS = { hkp: "the owner, by keyserver (gpg --send-keys)", upload: "the owner, on the request page" } as const;

/** Owner updates of the request's key, newest first: when, how, and what changed. */
export function keyUpdateListModel(records: readonly KeyUpdateRecord[]) {
  return { keyUpdates: records.map((record) => ({ at: formatDateTime(record.createdAt), sourceLabel: SOURCE_LABELS[record.source], lines: linesOf(readSummary(record.summary)) })) };
}

/** The stored summary (written by the owner-update service); anything unreadable shows as no lines. */
function readSummary(stored: string): UpdateSummary {
  const parsed: unknown = JSON.parse(stored);
  const empty: UpdateSummary = { changes: [], stripped: { userIds: 0, userAttributes: 0, signatures: 0, subkeys: 0 } };
  if (typeof parsed !== "object" || parsed === null || !("changes" in parsed) || !("stripped" in parsed) || !Array.isArray(parsed.changes)) return empty;
  return parsed as UpdateSummary;
}
