/**
 * Which files a module.sig lists, and in which order: devtools' order (names sorted by their
 * bytes within each directory, a directory's files listed where the directory sorts), without
 * dot-names at any depth, the top-level module.sig, and what is made at run time. Pure: the
 * tree comes in as paths, the listing goes out.
 */

/** A file of the module tree, by its path relative to the module's root, "/"-separated. */
export interface TreeFile {
  path: string;
}

/** Made by FreePBX at run time (compiled LESS); listing it makes every install report "altered". */
export const DEFAULT_EXCLUDES: readonly string[] = ["assets/less/cache/"];

export type ExcludeReason = "dot-name" | "module.sig" | "excluded";

export interface ModuleListing {
  /** The files to hash and list, in devtools' order. */
  listed: string[];
  /** Files left out on purpose, with the rule that left each out. */
  left: Array<{ path: string; reason: ExcludeReason; rule?: string }>;
}

/**
 * `excludes` are paths relative to the module: "dir/" leaves out a directory, anything else one
 * file. Dot-names and the top-level module.sig are always left out.
 */
export function listModuleFiles(files: readonly TreeFile[], excludes: readonly string[] = DEFAULT_EXCLUDES): ModuleListing {
  const listing: ModuleListing = { listed: [], left: [] };
  for (const { path } of files) {
    const reason = exclusionOf(path, excludes);
    if (reason) listing.left.push({ path, ...reason });
    else listing.listed.push(path);
  }
  listing.listed.sort(compareDevtoolsOrder);
  listing.left.sort((a, b) => compareDevtoolsOrder(a.path, b.path));
  return listing;
}

function exclusionOf(path: string, excludes: readonly string[]): { reason: ExcludeReason; rule?: string } | null {
  if (path.split("/").some((name) => name.startsWith("."))) return { reason: "dot-name" };
  if (path === "module.sig") return { reason: "module.sig" };
  const rule = excludes.find((exclude) => (exclude.endsWith("/") ? path.startsWith(exclude) : path === exclude));
  return rule === undefined ? null : { reason: "excluded", rule };
}

const encoder = new TextEncoder();

/**
 * Devtools walks each directory in byte order of its names and descends into a directory where
 * it sorts: comparing paths name by name, by their UTF-8 bytes, gives that order.
 */
export function compareDevtoolsOrder(a: string, b: string): number {
  const left = a.split("/");
  const right = b.split("/");
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const order = compareBytes(encoder.encode(left[i]), encoder.encode(right[i]));
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** Why an official FreePBX package leaves a file out of its module.sig, or null when it would list it. */
export function officialExclusion(path: string): string | null {
  const names = path.split("/");
  if (names[0] === "i18n" && names.length > 1) return "top-level i18n/";
  if (names.some((name) => name.startsWith(".") && name !== ".htaccess")) return "dot-file";
  if (path.toLowerCase().endsWith(".txt")) return "*.txt";
  return null;
}

export interface UnlistedFile {
  path: string;
  /** The official exclusion that covers it, or null: a file the signature says nothing about. */
  official: string | null;
}

/** Files present but not listed (module.sig itself aside): non-fatal, as on FreePBX, but worth a look. */
export function unlistedFiles(present: readonly string[], listed: ReadonlySet<string>): UnlistedFile[] {
  return present
    .filter((path) => path !== "module.sig" && !listed.has(path))
    .sort(compareDevtoolsOrder)
    .map((path) => ({ path, official: officialExclusion(path) }));
}
