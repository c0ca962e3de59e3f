/**
 * The HKP lookup protocol as GnuPG's dirmngr speaks it (draft-shaw-openpgp-hkp): which key a
 * `/pks/lookup` query asks for, and the machine-readable index. Only exact lookups are
 * answered: a full fingerprint or a 16-digit key ID (of the primary key or any subkey).
 * Short key IDs, substrings and wildcards would let anyone enumerate the directory.
 */
export type HkpSearch = { kind: "fingerprint"; value: string } | { kind: "keyId"; value: string } | { kind: "email"; value: string };

export type HkpQuery = { ok: true; op: "get" | "index"; search: HkpSearch } | { ok: false; status: 400 | 501; message: string };

const OPS: Readonly<Record<string, "get" | "index">> = { get: "get", index: "index", vindex: "index" };

export function parseLookup(query: { op?: string; search?: string }): HkpQuery {
  const op = query.op === undefined ? undefined : OPS[query.op];
  if (query.op === undefined) return refuse(400, "Say what to do: op=get for the key, op=index to list it.");
  if (op === undefined) return refuse(501, `This keyserver answers op=get, op=index and op=vindex, not op=${query.op.slice(0, 20)}.`);
  const search = (query.search ?? "").trim();
  if (search === "") return refuse(400, "Say which key: search=0x followed by its 40-digit fingerprint or 16-digit key ID.");
  const hex = /^0x([0-9a-f]+)$/i.exec(search)?.[1]?.toUpperCase();
  if (hex?.length === 40) return { ok: true, op, search: { kind: "fingerprint", value: hex } };
  if (hex?.length === 16) return { ok: true, op, search: { kind: "keyId", value: hex } };
  if (hex !== undefined) return refuse(400, "Short key IDs are not looked up (anyone can make a key with the same one): give the full fingerprint or the 16-digit key ID.");
  if (/^[^\s@*%<>]+@[^\s@*%<>]+$/.test(search)) return { ok: true, op, search: { kind: "email", value: search.toLowerCase() } };
  return refuse(400, "Only exact lookups are answered: 0x with the fingerprint or the 16-digit key ID, or a whole email address.");
}

function refuse(status: 400 | 501, message: string): HkpQuery {
  return { ok: false, status, message };
}

export interface IndexedKey {
  fingerprint: string;
  algorithm: number;
  bits: number;
  createdAt: Date;
  expiresAt: Date | null;
  /** User IDs to list: only those the owner agreed to publish. */
  userIds: readonly string[];
  /** The owner revoked the key (an owner update carried its revocation). */
  revoked?: boolean;
}

/** The `options=mr` index (draft-shaw §5.2): an info line, then per key a pub line and its uid lines. */
export function machineReadableIndex(keys: readonly IndexedKey[], now: Date): string {
  const lines = [`info:1:${keys.length}`];
  for (const key of keys) {
    // The portal never certifies a revoked key: "r" comes only from an owner update's revocation.
    const flags = `${key.revoked ? "r" : ""}${key.expiresAt !== null && key.expiresAt <= now ? "e" : ""}`;
    lines.push(`pub:${key.fingerprint}:${key.algorithm}:${key.bits}:${seconds(key.createdAt)}:${key.expiresAt ? seconds(key.expiresAt) : ""}:${flags}`);
    for (const userId of key.userIds) lines.push(`uid:${escapeField(userId)}:::`);
  }
  return `${lines.join("\n")}\n`;
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/** Percent-escapes what the colon format cannot hold: ':', '%', controls and non-ASCII (as UTF-8 bytes). */
export function escapeField(text: string): string {
  return [...new TextEncoder().encode(text)].map((byte) => (byte === 0x3a || byte === 0x25 || byte < 0x20 || byte > 0x7e ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte))).join("");
}

/**
 * The keyserver address GnuPG needs for the portal at `publicUrl`: hkps for https; for http
 * the port is always written, since hkp:// alone means port 11371.
 */
export function keyserverAddress(publicUrl: string): string {
  const url = new URL(publicUrl);
  return url.protocol === "https:" ? `hkps://${url.host}` : `hkp://${url.hostname}:${url.port || "80"}`;
}
