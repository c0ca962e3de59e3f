import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
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

export async function prepareDataDir(paths: DataPaths): Promise<void> {
  for (const dir of [paths.root, paths.agreements, paths.tmp, paths.mail]) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
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
