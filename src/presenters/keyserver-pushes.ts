import { formatFingerprint } from "../core/key-policy.ts";
import type { KeyserverOverview } from "../services/keyserver-push.ts";
import { formatDateTime } from "./helpers.ts";

/** How each status reads on the staff page. */
const STATUS_LABELS: Readonly<Record<string, string>> = {
  pending: "Waiting",
  sending: "Sending",
  sent: "Sent",
  failed: "Failed for good",
  superseded: "Replaced by a newer form",
};

/** Classes of the existing state badges, so the page reads as the request pages do. */
const STATUS_BADGES: Readonly<Record<string, string>> = { sent: "certified", failed: "rejected", pending: "expired", sending: "expired", superseded: "withdrawn" };

export function keyserverPushesModel(input: { overview: KeyserverOverview[]; retried: boolean; error?: string }) {
  return {
    title: "Publication",
    enabled: input.overview.length > 0,
    retried: input.retried,
    error: input.error,
    keyservers: input.overview.map(({ keyserver, counts, recent }) => ({
      keyserver,
      waiting: (counts.pending ?? 0) + (counts.sending ?? 0),
      sent: counts.sent ?? 0,
      failed: counts.failed ?? 0,
      rows: recent.map((row) => ({
        id: row.id,
        fingerprint: formatFingerprint(row.fingerprint),
        keyPage: `/keys/${row.fingerprint}`,
        status: STATUS_LABELS[row.status] ?? row.status,
        badge: STATUS_BADGES[row.status] ?? "",
        attempts: row.attempts,
        queued: formatDateTime(row.createdAt),
        // A claimed row's nextAttemptAt is its lease, not an attempt.
        nextAttempt: row.status === "pending" ? formatDateTime(row.nextAttemptAt) : "",
        sent: formatDateTime(row.sentAt),
        lastError: row.status === "sent" ? "" : (row.lastError ?? ""),
        retriable: row.status === "failed",
      })),
    })),
  };
}
