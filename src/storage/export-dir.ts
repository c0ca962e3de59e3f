/**
 * Writes the static export so that a web server reading it never sees a half-written or
 * missing tree. DIR is a symbolic link to a complete version directory beside it
 * (`DIR.keysign-export-<n>`); each export writes a new version, then renames a fresh link over
 * DIR (a rename is atomic), then removes versions older than the one it replaced (kept for
 * requests that resolved the link just before the swap). The web server's root is DIR itself.
 * Nothing is deleted that is not marked as ours: a DIR that exists and is not our link is refused.
 */
import { randomBytes } from "node:crypto";
import { link, lstat, mkdir, readdir, readlink, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { KeysignError } from "../errors.ts";

/** In every version directory, written first, so a version is recognised as ours even if an export died half-way. */
export const EXPORT_MARKER = ".keysign-export";
const VERSION_INFIX = ".keysign-export-";
/** Files written at once: enough to keep the disk busy, few enough for the open-file limit. */
const PARALLEL_WRITES = 32;

export class ExportDirError extends KeysignError {
  override name = "ExportDirError";
  constructor(message: string) {
    super("KEYSIGN_ERR_EXPORT_DIR", message, 400);
  }
}

export interface ExportWritten {
  /** The version directory DIR now points at. */
  version: string;
  files: number;
}

/** Writes `tree` as a new version and points `dir` at it. */
export async function replaceExportDir(dir: string, tree: ReadonlyMap<string, Uint8Array>): Promise<ExportWritten> {
  const target = path.resolve(dir);
  const previous = await currentVersion(target);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const name = `${path.basename(target)}${VERSION_INFIX}${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const version = path.join(parent, name);
  await mkdir(version);
  try {
    await writeFile(path.join(version, EXPORT_MARKER), "A static export of a Keysign portal: replaced whole by the next export.\n");
    await writeTree(version, tree);
    const temporaryLink = path.join(parent, `.${name}.link`);
    // Relative, so the tree can be moved or mounted elsewhere with its link.
    await symlink(name, temporaryLink);
    await rename(temporaryLink, target);
  } catch (error) {
    await rm(version, { recursive: true, force: true });
    throw error;
  }
  await removeOldVersions(target, new Set([name, ...(previous ? [path.basename(previous)] : [])]));
  return { version, files: tree.size };
}

/** The version `dir` points at; null when `dir` does not exist. Refuses anything that is not our link. */
async function currentVersion(dir: string): Promise<string | null> {
  const info = await lstat(dir).catch((error: unknown) => (isMissing(error) ? null : Promise.reject(error)));
  if (info === null) return null;
  const refuse = () => new ExportDirError(`${dir} exists and is not a static export made by keysign: choose a path that does not exist yet (it becomes a link to the export), or remove it yourself.`);
  if (!info.isSymbolicLink()) throw refuse();
  const pointsTo = path.resolve(path.dirname(dir), await readlink(dir));
  if (path.dirname(pointsTo) !== path.dirname(dir) || !path.basename(pointsTo).startsWith(`${path.basename(dir)}${VERSION_INFIX}`)) throw refuse();
  if (!(await isOurs(pointsTo))) throw refuse();
  return pointsTo;
}

async function isOurs(version: string): Promise<boolean> {
  return stat(path.join(version, EXPORT_MARKER)).then(
    (info) => info.isFile(),
    () => false,
  );
}

async function removeOldVersions(dir: string, keep: ReadonlySet<string>): Promise<void> {
  const prefix = `${path.basename(dir)}${VERSION_INFIX}`;
  for (const entry of await readdir(path.dirname(dir), { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(prefix) || keep.has(entry.name)) continue;
    const version = path.join(path.dirname(dir), entry.name);
    if (await isOurs(version)) await rm(version, { recursive: true, force: true });
  }
}

/** Writes every file; bytes already written under another name (the same object) become a hard link. */
async function writeTree(root: string, tree: ReadonlyMap<string, Uint8Array>): Promise<void> {
  const directories = new Set([...tree.keys()].map((file) => path.posix.dirname(file)).filter((dir) => dir !== "."));
  for (const dir of [...directories].sort()) await mkdir(path.join(root, ...dir.split("/")), { recursive: true });
  const firstPath = new Map<Uint8Array, string>();
  const entries = [...tree];
  const linked: Array<[string, string]> = [];
  const written: Array<[string, Uint8Array]> = [];
  for (const [file, bytes] of entries) {
    const first = firstPath.get(bytes);
    if (first === undefined) {
      firstPath.set(bytes, file);
      written.push([file, bytes]);
    } else {
      linked.push([first, file]);
    }
  }
  const full = (file: string) => path.join(root, ...file.split("/"));
  await inParallel(written, ([file, bytes]) => writeFile(full(file), bytes, { flag: "wx", mode: 0o644 }));
  await inParallel(linked, ([first, file]) => link(full(first), full(file)));
}

async function inParallel<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await task(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, items.length) }, worker));
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
