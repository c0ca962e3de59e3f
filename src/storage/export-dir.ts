/**
 * Writes the static export so that a web server reading it never sees a half-written or
 * missing tree. DIR is a symbolic link to a complete version directory beside it
 * (`DIR.keysign-export-<n>`); each export writes a new version, then renames a fresh link over
 * DIR (a rename is atomic). The version it replaced stays until the next export, for requests
 * that resolved the link just before the swap; older ones are removed. The web server's root
 * is DIR itself.
 * Nothing is deleted that is not marked as ours: a DIR that exists and is not our link is refused.
 */
import { randomBytes } from "node:crypto";
import { linkSync } from "node:fs";
import { lstat, mkdir, readdir, readlink, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { setImmediate as nextTurn } from "node:timers/promises";
import path from "node:path";
import { KeysignError } from "../errors.ts";

/** In every version directory, written first, so a version is recognised as ours even if an export died half-way. */
export const EXPORT_MARKER = ".keysign-export";
const VERSION_INFIX = ".keysign-export-";
/** Files written at once: enough to keep the disk busy, few enough for the open-file limit. */
const PARALLEL_WRITES = 32;
/**
 * Hard links made between two turns of the event loop. A link is a few microseconds done
 * directly and far more through the thread pool, so they are made in slices that keep the
 * portal answering while it exports.
 */
const LINKS_PER_TURN = 500;

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
  const current = await currentVersion(target);
  const parent = path.dirname(target);
  await mkdir(parent, { recursive: true });
  const name = `${path.basename(target)}${VERSION_INFIX}${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
  const version = path.join(parent, name);
  await mkdir(version);
  // Versions before the current one were replaced at least one export ago: no reader is still
  // in them. They are removed while the new one is written, which mostly waits on the disk.
  const removing = removeOldVersions(target, new Set([name, ...(current ? [path.basename(current)] : [])]));
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
  } finally {
    await removing;
  }
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
  for (let from = 0; from < linked.length; from += LINKS_PER_TURN) {
    for (const [first, file] of linked.slice(from, from + LINKS_PER_TURN)) linkSync(full(first), full(file));
    await nextTurn();
  }
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
