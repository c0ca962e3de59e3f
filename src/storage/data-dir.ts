import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { explainFsError, StartupError } from "../startup.ts";

export interface DataPaths {
  root: string;
  agreements: string;
  tmp: string;
  mail: string;
  secrets: string;
  queueKey: string;
  publicationKey: string;
}

export interface Secrets {
  sessionSecret: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    agreements: path.join(root, "agreements"),
    tmp: path.join(root, "tmp"),
    mail: path.join(root, "mail"),
    secrets: path.join(root, "secrets.json"),
    queueKey: path.join(root, "queue-key.asc"),
    publicationKey: path.join(root, "publication-key.asc"),
  };
}

/**
 * The data directory holds the database, agreements, mail and secrets: only the portal's own
 * user may read it. Directories are 0700 even when they existed before (mkdir's mode applies
 * only to new ones).
 */
export async function prepareDataDir(paths: DataPaths): Promise<void> {
  for (const dir of [paths.root, paths.agreements, paths.tmp, paths.mail]) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
    } catch (error) {
      throw explainFsError(error, `the data directory ${dir} cannot be used`, "Set DATA_DIR to a directory this user can write, or fix its permissions.");
    }
  }
}

/**
 * The SQLite file is 0600 before it is opened, so the -wal and -shm files SQLite creates
 * beside it take the same mode. A database not given as a local file is left alone.
 */
export async function restrictDatabaseFile(file: string | null): Promise<void> {
  if (file === null) return;
  for (const name of [file, `${file}-wal`, `${file}-shm`]) {
    await chmod(name, 0o600).catch((error: unknown) => {
      if (!isMissingFile(error)) throw error;
    });
  }
}

/**
 * Secrets not given in the environment are generated once into the data directory
 * (mode 0600), so a fresh clone runs with no configuration and restarts keep sessions.
 */
export async function loadOrCreateSecrets(paths: DataPaths, configured: Partial<Secrets>): Promise<Secrets> {
  const stored = await readStoredSecrets(paths.secrets);
  const secrets: Secrets = {
    sessionSecret: configured.sessionSecret || stored.sessionSecret || randomBytes(32).toString("base64url"),
  };
  if (secrets.sessionSecret !== stored.sessionSecret && !configured.sessionSecret) {
    await writeFile(paths.secrets, JSON.stringify({ ...stored, ...secrets }, null, 2), { mode: 0o600 }).catch((error: unknown) => {
      throw explainFsError(error, `${paths.secrets} cannot be written`, "Check the data directory's permissions and free space.");
    });
  }
  return secrets;
}

/**
 * A damaged file is refused, not replaced: a new session secret would sign everyone out, and
 * the operator should know the data directory was damaged.
 */
async function readStoredSecrets(file: string): Promise<Partial<Secrets>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (isMissingFile(error)) return {};
    throw explainFsError(error, `${file} cannot be read`, "Check the data directory's permissions.");
  }
  const parsed = parseJson(text);
  if (parsed === undefined || parsed === null || typeof parsed !== "object" || ("sessionSecret" in parsed && typeof parsed.sessionSecret !== "string")) {
    throw new StartupError(`${file} is damaged (not the JSON the portal wrote). Restore it from a backup, or delete it to make new secrets (everyone is signed out).`);
  }
  return "sessionSecret" in parsed && typeof parsed.sessionSecret === "string" ? { sessionSecret: parsed.sessionSecret } : {};
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Upload temp files older than `maxAgeMs` belong to requests that died mid-way. */
export function sweepStaleTempFiles(paths: DataPaths, now: Date, maxAgeMs = 60 * 60 * 1000): Promise<number> {
  return removeOlderThan(paths.tmp, now, maxAgeMs, () => false);
}

/**
 * Agreement files that no row names: a process killed between storing the file and writing
 * its row leaves one behind. Only files older than `maxAgeMs` go, so an upload in flight in
 * another process is never touched.
 */
export function sweepOrphanAgreements(paths: DataPaths, named: ReadonlySet<string>, now: Date, maxAgeMs = 60 * 60 * 1000): Promise<number> {
  return removeOlderThan(paths.agreements, now, maxAgeMs, (name) => named.has(name));
}

async function removeOlderThan(dir: string, now: Date, maxAgeMs: number, keep: (name: string) => boolean): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir)) {
    if (keep(name)) continue;
    const file = path.join(dir, name);
    const info = await stat(file);
    if (now.getTime() - info.mtime.getTime() < maxAgeMs) continue;
    await rm(file, { force: true, recursive: true });
    removed += 1;
  }
  return removed;
}

export function isMissingFile(error: unknown): boolean {
  return error instanceof Error && "code" in error && error.code === "ENOENT";
}
