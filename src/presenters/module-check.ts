import { formatFingerprint } from "../core/key-policy.ts";
import type { Verdict } from "../core/module-sig/verify.ts";
import type { ModuleCheck } from "../services/module-check.ts";
import { formatDate } from "./helpers.ts";
import { STATE_LABELS } from "./key-status.ts";

const VERDICT_LABELS: Readonly<Record<Verdict, string>> = {
  trusted: "Trusted",
  tampered: "Tampered with",
  untrusted: "Not trusted",
  revoked: "Revoked",
  expired: "Signed with an expired key",
  unsigned: "Not signed",
  invalid: "Signature not valid",
  refused: "Refused",
  stale: "Revocation status unknown",
};

const FILE_LABELS = { ok: "Matches", altered: "Altered", missing: "Missing" } as const;

const date = (iso: string | null) => (iso === null ? null : formatDate(new Date(iso)));

/** The page: the form, and when a check ran, its result. */
export function checkModuleModel(result: ModuleCheck | null) {
  return { title: "Check a module", result: result === null ? null : resultModel(result) };
}

function resultModel(result: ModuleCheck) {
  const files = result.archive?.files ?? [];
  return {
    verdict: result.verdict,
    verdictLabel: VERDICT_LABELS[result.verdict],
    good: result.verdict === "trusted",
    reason: result.reason,
    freepbx: { status: result.freepbx.status, names: result.freepbx.names.join(", ") || "none", details: result.freepbx.details },
    issuer: result.issuer,
    signer: result.signer && { ...result.signer, fingerprint: formatFingerprint(result.signer.fingerprint), subkey: result.signer.signingKey !== result.signer.fingerprint ? formatFingerprint(result.signer.signingKey) : null, signedAt: date(result.signer.signedAt) },
    standing: result.standing && {
      href: result.standing.statusUrl,
      state: result.standing.state,
      stateLabel: STATE_LABELS[result.standing.state],
      periods: result.standing.periods.map((period) => ({
        stateLabel: STATE_LABELS[period.state],
        certifiedAt: date(period.certifiedAt),
        expiresAt: date(period.expiresAt) ?? "does not expire",
        revokedAt: date(period.revokedAt),
        reason: period.reason,
      })),
    },
    moduleSig: result.moduleSig,
    archive: result.archive && {
      module: result.archive.module,
      entries: result.archive.entries,
      changed: files.filter((file) => file.result !== "ok").map((file) => ({ ...file, label: FILE_LABELS[file.result] })),
      matching: files.filter((file) => file.result === "ok").map((file) => file.path),
      unlisted: result.archive.unlisted.filter((file) => file.official === null).map((file) => file.path),
      excluded: result.archive.unlisted.filter((file) => file.official !== null),
    },
    notes: result.notes,
  };
}
