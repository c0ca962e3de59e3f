/**
 * The module.sig text as FreePBX's devtools write it, and what FreePBX reads back from a
 * verified one. The text is clear-signed as a whole; see `ini.ts` for how it is read.
 */
import { parseModuleIni, type IniSections } from "./ini.ts";

export const MODULE_SIG_BANNER: readonly string[] = [
  ";################################################",
  ";#        FreePBX Module Signature File         #",
  ";################################################",
  ";# Do not alter the contents of this file!  If  #",
  ";# this file is tampered with, the module will  #",
  ";# fail validation and be marked as invalid!    #",
  ";################################################",
];

export type ModuleType = "public" | "local";

export interface ModuleSigContent {
  /** The full fingerprint of the key that signs; a label only, never trusted by a verifier. */
  signedWith: string;
  repo: string;
  type: ModuleType;
  /** In the order to list them (see `listModuleFiles`). */
  hashes: ReadonlyArray<{ path: string; sha256: string }>;
}

/** The text to clear-sign: LF line endings, ending with ";# End" and a line break. */
export function moduleSigText(content: ModuleSigContent): string {
  const lines = [
    ...MODULE_SIG_BANNER,
    "",
    "[config]",
    "version=2",
    "hash=sha256",
    `signedwith=${content.signedWith}`,
    "signedby=keysign",
    `repo=${content.repo}`,
    `type=${content.type}`,
    "[hashes]",
    ...content.hashes.map(({ path, sha256 }) => `${path} = ${sha256}`),
    ";# End",
  ];
  return `${lines.join("\n")}\n`;
}

export interface ModuleSigFields {
  /** `[config] version`, as written (FreePBX compares it as a number). */
  version: string;
  hash: string;
  /** `[config] expiresafter` as seconds since 1970, when given. */
  expiresAfter: number | null;
  type: string;
  signedWith: string;
  /** `[hashes]`, in file order. */
  hashes: Map<string, string>;
}

export type ModuleSigRead = { ok: true; fields: ModuleSigFields } | { ok: false; reason: string };

/** Reads the verified text. An empty text reads as no hashes, as PHP's reader gives none. */
export function readModuleSig(verifiedText: string): ModuleSigRead {
  const parsed = parseModuleIni(verifiedText);
  if (!parsed.ok) return { ok: false, reason: `line ${parsed.line}: ${parsed.reason}` };
  return { ok: true, fields: fieldsOf(parsed.sections) };
}

function fieldsOf(sections: IniSections): ModuleSigFields {
  const config = sections.get("config") ?? new Map<string, string>();
  const expires = config.get("expiresafter");
  return {
    version: config.get("version") ?? "",
    hash: config.get("hash") ?? "",
    expiresAfter: expires !== undefined && /^\d+(\.\d+)?$/.test(expires) ? Math.floor(Number(expires)) : null,
    type: config.get("type") ?? "public",
    signedWith: config.get("signedwith") ?? "",
    hashes: sections.get("hashes") ?? new Map<string, string>(),
  };
}

/**
 * A clear-signed module.sig as `gpg --clearsign` lays it out, with LF line endings throughout:
 * the signed text is `text` without its final line break (which belongs to the armor), lines
 * starting with "-" are dash-escaped, and `signatureBlock` is the armored signature.
 */
export function clearSignedModuleSig(text: string, hashName: string, signatureBlock: string): string {
  const body = text
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => (line.startsWith("-") ? `- ${line}` : line))
    .join("\n");
  return `-----BEGIN PGP SIGNED MESSAGE-----\nHash: ${hashName}\n\n${body}\n${signatureBlock.replace(/\r\n/g, "\n")}`;
}
