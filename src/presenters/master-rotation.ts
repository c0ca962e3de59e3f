import * as openpgp from "openpgp";
import { formatFingerprint } from "../core/key-policy.ts";
import type { MasterKey, MasterRole } from "../core/master-keys.ts";
import type { RotationView } from "../services/master-rotation.ts";
import { formatDateTime } from "./helpers.ts";

const ROLE_LABELS: Readonly<Record<MasterRole, string>> = {
  current: "current",
  new: "new (being introduced)",
  retired: "retired",
};

/** How many certifications the retirement warning names one by one; the rest are counted. */
const LISTED_UNCOVERED = 50;

/** The Settings page's master rotation block. */
export async function rotationSettingsModel(view: RotationView) {
  const current = view.masters.find((master) => master.role === "current");
  const next = view.masters.find((master) => master.role === "new");
  return {
    masters: await Promise.all(view.masters.map(masterFacts)),
    canRegister: current !== undefined && next === undefined,
    newMaster: next ? formatFingerprint(next.fingerprint) : null,
    currentMaster: current ? formatFingerprint(current.fingerprint) : null,
    recertified: view.recertified,
    uncoveredCount: view.uncovered.length,
    uncovered: view.uncovered.slice(0, LISTED_UNCOVERED).map((entry) => ({ ...entry, fingerprint: formatFingerprint(entry.fingerprint) })),
    uncoveredMore: Math.max(0, view.uncovered.length - LISTED_UNCOVERED),
  };
}

async function masterFacts(master: MasterKey) {
  const key = await openpgp.readKey({ armoredKey: master.publicKey }).catch(() => null);
  return {
    fingerprint: formatFingerprint(master.fingerprint),
    role: ROLE_LABELS[master.role],
    userIds: key?.getUserIDs() ?? [],
    retiredAt: master.retiredAt ? formatDateTime(master.retiredAt) : null,
  };
}

/**
 * The signing queue's rotation block: "Re-certify with the new master" while a new master is
 * registered, and revocations only another master can sign. Null when there is neither.
 */
export function recertifyModel(view: RotationView) {
  const current = view.masters.find((master) => master.role === "current");
  const next = view.masters.find((master) => master.role === "new");
  const [open] = view.openRecertifications;
  const recertify = current && next ? { newMaster: formatFingerprint(next.fingerprint), oldMaster: formatFingerprint(current.fingerprint), pending: view.uncovered.length, openBatch: open ?? null } : null;
  const revocations = view.waitingRevocations.map((entry) => ({ fingerprint: entry.fingerprint, grouped: formatFingerprint(entry.fingerprint), role: ROLE_LABELS[entry.role], count: entry.count }));
  return recertify === null && revocations.length === 0 ? null : { recertify, revocations };
}
