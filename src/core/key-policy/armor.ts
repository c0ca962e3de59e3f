/**
 * ASCII armor handling shared by key and signature intake. We split blocks ourselves because
 * openpgp.unarmor reads only the first block, and a second block (say, a private key pasted
 * after the public one) must not go unseen.
 */
import { armor, enums, unarmor, type Config } from "openpgp";
import { inspectionConfig } from "../openpgp-config.ts";

export interface ArmorBlock {
  /** The text between "-----BEGIN PGP " and "-----", e.g. "PUBLIC KEY BLOCK". */
  label: string;
  text: string;
}

export type ArmorSplit =
  | { ok: true; blocks: ArmorBlock[] }
  | { ok: false; reason: "text-outside" | "clear-signed" }
  | { ok: false; reason: "not-closed" | "no-end"; label: string };

const BEGIN_LINE = /^-----BEGIN PGP ([A-Z0-9 ,/]{1,40})-----\s*$/;

/**
 * Text (binary OpenPGP always starts with a byte that has its high bit set; a UTF-8 byte-order
 * mark is skipped) containing an armor header line anywhere, so that text pasted around a
 * block gets a message about that text rather than "not OpenPGP".
 */
export function looksArmored(bytes: Uint8Array): boolean {
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (((bytes[start] ?? 0) & 0x80) !== 0) return false;
  return Buffer.from(bytes).includes("-----BEGIN ");
}

/** Splits armored text into blocks; only blank lines may appear between and around them. */
export function splitArmor(text: string): ArmorSplit {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const blocks: ArmorBlock[] = [];
  let open: { label: string; lines: string[] } | null = null;
  for (const line of lines) {
    if (open === null) {
      if (line.trim() === "") continue;
      const label = BEGIN_LINE.exec(line)?.[1];
      if (label === undefined) return { ok: false, reason: "text-outside" };
      // A clear-signed message embeds a second BEGIN line; name it instead of parsing further.
      if (label === "SIGNED MESSAGE") return { ok: false, reason: "clear-signed" };
      open = { label, lines: [line] };
      continue;
    }
    open.lines.push(line);
    if (line.trim() === `-----END PGP ${open.label}-----`) {
      blocks.push({ label: open.label, text: open.lines.join("\n") + "\n" });
      open = null;
    } else if (line.startsWith("-----")) {
      return { ok: false, reason: "not-closed", label: open.label };
    }
  }
  if (open !== null) return { ok: false, reason: "no-end", label: open.label };
  return { ok: true, blocks };
}

/** The binary content of one armored block, or null if it is damaged. */
export async function dearmor(text: string, config: Config): Promise<Uint8Array | null> {
  try {
    const { data } = await unarmor(text, config);
    return data instanceof Uint8Array ? data : null;
  } catch {
    return null;
  }
}

/**
 * An armored public key as GnuPG 2.2 reads it: with the CRC line (GnuPG 2.2.40 refused a key
 * armored without one whose data needed no "=" padding: "invalid radix64 character 2D skipped"),
 * and without version or comment headers, so the text is reproducible.
 */
export function armorPublicKey(binary: Uint8Array): string {
  return armor(enums.armor.publicKey, binary, undefined, undefined, undefined, true, inspectionConfig({ minRsaBits: 2048 }));
}
