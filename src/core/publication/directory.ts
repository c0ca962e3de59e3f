/**
 * The public directory of certified developers: only keys whose owners agreed to be listed,
 * with only the user IDs they agreed to publish. Pure: the published choices and the
 * certification records in, the entries out.
 */
import { checkUserId } from "../key-policy/user-id.ts";
import { keyStatus, type CertificationRecord, type KeyState } from "./key-status.ts";

export interface DirectoryEntry {
  fingerprint: string;
  /** The names of the published user IDs, without repeats, in the order given. */
  names: string[];
  /** Their lower-cased addresses, without repeats. */
  addresses: string[];
  /** When the current period of certification began. */
  certifiedSince: Date;
  expiresAt: Date | null;
  state: KeyState;
}

/** Search text is bounded before it is used; longer text finds nothing a shorter one would not. */
export const MAX_SEARCH_LENGTH = 100;

export function directoryEntries(
  published: ReadonlyArray<{ fingerprint: string; userIds: readonly string[] }>,
  records: ReadonlyArray<CertificationRecord & { fingerprint: string }>,
  now: Date,
): DirectoryEntry[] {
  const byKey = new Map<string, CertificationRecord[]>();
  for (const record of records) {
    const known = byKey.get(record.fingerprint);
    if (known) known.push(record);
    else byKey.set(record.fingerprint, [record]);
  }
  const entries: DirectoryEntry[] = [];
  for (const { fingerprint, userIds } of published) {
    const status = keyStatus(byKey.get(fingerprint) ?? [], now);
    const [current] = status?.periods ?? [];
    if (!status || !current) continue;
    const facts = userIds.flatMap((userId) => {
      const check = checkUserId(new TextEncoder().encode(userId));
      return check.ok ? [check.facts] : [];
    });
    entries.push({
      fingerprint,
      names: unique(facts.map((fact) => fact.name).filter((name) => name !== "")),
      addresses: unique(facts.flatMap((fact) => (fact.email ? [fact.email] : []))),
      certifiedSince: current.certifiedAt,
      expiresAt: current.expiresAt,
      state: status.state,
    });
  }
  return entries.sort((a, b) => sortName(a).localeCompare(sortName(b)) || a.fingerprint.localeCompare(b.fingerprint));
}

/**
 * The entries a search finds: every word must appear in a name, an address or the
 * fingerprint (spaces in a pasted fingerprint are ignored), ignoring case.
 */
export function searchDirectory(entries: readonly DirectoryEntry[], query: string): DirectoryEntry[] {
  const words = query.slice(0, MAX_SEARCH_LENGTH).toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...entries];
  const fingerprintLike = query.replace(/\s+/g, "").toUpperCase();
  return entries.filter((entry) => {
    if (/^[0-9A-F]{8,40}$/.test(fingerprintLike) && entry.fingerprint.includes(fingerprintLike)) return true;
    const haystack = [...entry.names, ...entry.addresses, entry.fingerprint].join("\n").toLowerCase();
    return words.every((word) => haystack.includes(word));
  });
}

function sortName(entry: DirectoryEntry): string {
  return (entry.names[0] ?? entry.addresses[0] ?? "").toLowerCase();
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
