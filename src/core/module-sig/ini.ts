/**
 * The INI text of a module.sig, read as FreePBX reads it (PHP's `parse_ini_string` with
 * sections) and written so that it reads back the same. Only the verified text of a signature
 * is ever given to `parseModuleIni`.
 */

export type IniSections = Map<string, Map<string, string>>;

export type IniParse = { ok: true; sections: IniSections } | { ok: false; line: number; reason: string };

/** PHP refuses these anywhere in a key. */
const KEY_FORBIDDEN = /[?{}|&~!()^"=;[\]\n\r]/;
/** PHP reads these unquoted words as booleans or null, so they cannot be keys. */
const RESERVED_WORDS = new Set(["null", "yes", "no", "true", "false", "on", "off", "none"]);
const TRUE_WORDS = new Set(["true", "on", "yes"]);
const EMPTY_WORDS = new Set(["false", "off", "no", "none", "null"]);

export function parseModuleIni(text: string): IniParse {
  const sections: IniSections = new Map([["", new Map()]]);
  let current = sections.get("") ?? new Map<string, string>();
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = (lines[index] ?? "").replace(/\r$/, "").trim();
    if (line === "" || line.startsWith(";")) continue;
    const section = /^\[([^\]]*)\]$/.exec(line);
    if (section) {
      const name = (section[1] ?? "").trim();
      current = sections.get(name) ?? new Map<string, string>();
      sections.set(name, current);
      continue;
    }
    const entry = parseEntry(line);
    if (typeof entry === "string") return { ok: false, line: index + 1, reason: entry };
    current.set(entry.key, entry.value);
  }
  return { ok: true, sections };
}

function parseEntry(line: string): { key: string; value: string } | string {
  const equals = line.indexOf("=");
  if (equals < 0) return "a line is neither a section, a comment nor key = value";
  const key = line.slice(0, equals).trim();
  if (key === "" || KEY_FORBIDDEN.test(key) || RESERVED_WORDS.has(key.toLowerCase())) return `the key ${JSON.stringify(key.slice(0, 80))} is not one PHP accepts`;
  const value = parseValue(line.slice(equals + 1).trim());
  return value === null ? `the value of ${JSON.stringify(key.slice(0, 80))} is not closed or has text after its quotes` : { key, value };
}

/** A quoted value keeps its text; an unquoted one ends at a ";" comment, and PHP's words become "1" or "". */
function parseValue(raw: string): string | null {
  const quote = raw[0];
  if (quote === '"' || quote === "'") {
    const end = raw.indexOf(quote, 1);
    if (end < 0) return null;
    const rest = raw.slice(end + 1).trim();
    return rest === "" || rest.startsWith(";") ? raw.slice(1, end) : null;
  }
  const value = raw.split(";")[0]?.trim() ?? "";
  if (TRUE_WORDS.has(value.toLowerCase())) return "1";
  if (EMPTY_WORDS.has(value.toLowerCase())) return "";
  return value;
}

/** Why FreePBX could not read `path` back as a key of [hashes], or null when it can. */
export function unlistablePathReason(path: string): string | null {
  if (path !== path.trim()) return "it starts or ends with a space";
  if (KEY_FORBIDDEN.test(path)) return 'it contains one of ? { } | & ~ ! ( ) ^ " = ; [ ] or a line break, which PHP\'s INI reader does not accept in a key';
  if (RESERVED_WORDS.has(path.toLowerCase())) return "PHP's INI reader takes it for a boolean or null";
  return null;
}
