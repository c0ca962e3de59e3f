import { randomBytes } from "node:crypto";
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export interface DataPaths {
  root: string;
  agreements: string;
  tmp: string;
  mail: string;
  secrets: string;
  queueKey: string;
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
  };
}

/**
 * The data directory holds the database, agreements, mail and secrets: only the portal's own
 * user may read it. Directories are 0700 even when they existed before (mkdir's mode applies
 * only to new ones).
 */
export async function prepareDataDir(paths: DataPaths): Promise<void> {
  for (const dir of [paths.root, paths.agreements, paths.tmp, paths.mail]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
  }
}

/**
 * The SQLite file is 0600 before it is opened, so the -wal and -shm files SQLite creates
 * beside it take the same mode. A database not given as a local file is left alone.
 */
export async function restrictDatabaseFile(databaseUrl: string): Promise<void> {
  if (!databaseUrl.startsWith("file:")) return;
  const file = databaseUrl.slice("file:".length).split("?")[0] ?? "";
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
    await writeFile(paths.secrets, JSON.stringify({ ...stored, ...secrets }, null, 2), { mode: 0o600 });
  }
  return secrets;
}

async function readStoredSecrets(file: string): Promise<Partial<Secrets>> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, "utf8"));
    if (parsed && typeof parsed === "object" && "sessionSecret" in parsed && typeof parsed.sessionSecret === "string") {
      return { sessionSecret: parsed.sessionSecret };
    }
    return {};
  } catch (error) {
    if (isMissingFile(error)) return {};
    throw error;
  }
}

/** Upload temp files older than `maxAgeMs` belong to requests that died mid-way. */
export async function sweepStaleTempFiles(paths: DataPaths, now: Date, maxAgeMs = 60 * 60 * 1000): Promise<number> {
  let removed = 0;
  for (const name of await readdir(paths.tmp)) {
    const file = path.join(paths.tmp, name);
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
