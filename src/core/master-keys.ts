/**
 * The master keys the portal knows during and after a rotation (docs/master-rotation.md): the
 * current one (in the settings), at most one new key being introduced, and retired ones kept
 * so that what they signed stays verifiable. Pure rules; the rows live in the Setting table.
 */

export type MasterRole = "current" | "new" | "retired";

export interface MasterKey {
  /** Upper-case hex fingerprint. */
  fingerprint: string;
  /** The armored public key, as accepted by the intake policy. */
  publicKey: string;
  role: MasterRole;
  /** When a retired key stopped being current; null for the others. */
  retiredAt: Date | null;
}

/** A stored list of retired masters (JSON); anything malformed reads as none rather than failing every import. */
export function parseRetiredMasters(stored: string | undefined): MasterKey[] {
  if (!stored) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed.flatMap((entry: unknown) => {
    if (typeof entry !== "object" || entry === null) return [];
    const { fingerprint, publicKey, retiredAt } = entry as Record<string, unknown>;
    if (typeof fingerprint !== "string" || !/^[0-9A-F]{40}$/.test(fingerprint) || typeof publicKey !== "string") return [];
    const at = typeof retiredAt === "string" ? new Date(retiredAt) : null;
    return [{ fingerprint, publicKey, role: "retired" as const, retiredAt: at && !Number.isNaN(at.getTime()) ? at : null }];
  });
}

export function serialiseRetiredMasters(masters: readonly MasterKey[]): string {
  return JSON.stringify(masters.map((master) => ({ fingerprint: master.fingerprint, publicKey: master.publicKey, retiredAt: master.retiredAt?.toISOString() ?? null })));
}

/** The registered master with this fingerprint, whatever its role; null when the portal does not know it. */
export function findMaster(masters: readonly MasterKey[], fingerprint: string): MasterKey | null {
  const wanted = fingerprint.toUpperCase();
  return masters.find((master) => master.fingerprint === wanted) ?? null;
}

/** Why a key cannot be registered as the new master; null when it can. */
export function newMasterProblem(masters: readonly MasterKey[], fingerprint: string): string | null {
  const known = findMaster(masters, fingerprint);
  if (known?.role === "current") return "This is the current master key. Register the NEW master's public key here (gpg --armor --export NEW-FINGERPRINT).";
  if (known?.role === "retired") return "This master key was retired; a retired key cannot come back as the new master. Generate a new master key for the rotation.";
  if (known?.role === "new") return "This key is already registered as the new master.";
  if (!masters.some((master) => master.role === "current")) return "There is no current master key yet: upload it above first. A second master is only for a rotation.";
  return null;
}

/**
 * Why the current master may not simply be replaced: during a rotation the registered masters
 * decide which results and revocations are accepted, so swapping one out would orphan its
 * batches and certifications; a retired master never comes back.
 */
export function masterReplacementProblem(masters: readonly MasterKey[], fingerprint: string): string | null {
  if (masters.some((master) => master.role === "retired" && master.fingerprint === fingerprint)) {
    return "This key is a retired master key; a retired master never signs again. Upload the key that should certify from now on.";
  }
  if (masters.some((master) => master.role === "new")) {
    return "A master rotation is under way, so the current master cannot be replaced here. Finish the rotation under Master key rotation: re-certify with the new master, then retire the old one.";
  }
  return null;
}
