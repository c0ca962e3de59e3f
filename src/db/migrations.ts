import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { localDatabaseFile, openDatabase, type Db } from "./client.ts";

const projectRoot = path.resolve(import.meta.dirname, "../..");
export const MIGRATIONS_DIR = path.join(projectRoot, "prisma", "migrations");

export interface MigrationState {
  pending: string[];
  /** Applied with other contents than the file on disk, unknown to this code, or failed half-way. */
  drifted: string[];
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: unknown;
  rolled_back_at: unknown;
}

/** The migrations this code ships, with the SHA-256 Prisma records for each. */
export async function readShippedMigrations(dir = MIGRATIONS_DIR): Promise<Map<string, string>> {
  const entries = await readdir(dir, { withFileTypes: true });
  const shipped = new Map<string, string>();
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const sql = await readFile(path.join(dir, entry.name, "migration.sql"));
    shipped.set(entry.name, createHash("sha256").update(sql).digest("hex"));
  }
  return shipped;
}

export async function readMigrationState(db: Db, dir = MIGRATIONS_DIR): Promise<MigrationState> {
  const shipped = await readShippedMigrations(dir);
  const tables = await db.$queryRawUnsafe<Array<{ name: string }>>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'",
  );
  if (tables.length === 0) return { pending: [...shipped.keys()], drifted: [] };
  const rows = await db.$queryRawUnsafe<AppliedRow[]>(
    "SELECT migration_name, checksum, finished_at, rolled_back_at FROM _prisma_migrations",
  );
  const applied = rows.filter((row) => row.rolled_back_at === null);
  const drifted = applied
    .filter((row) => row.finished_at === null || shipped.get(row.migration_name) !== row.checksum)
    .map((row) => row.migration_name);
  const done = new Set(applied.map((row) => row.migration_name));
  return { pending: [...shipped.keys()].filter((name) => !done.has(name)), drifted };
}

export class MigrationStateError extends Error {
  override name = "MigrationStateError";
}

/** Fail closed: the portal never runs against a schema it was not written for. */
export async function assertMigrationsApplied(db: Db, dir = MIGRATIONS_DIR): Promise<void> {
  const { pending, drifted } = await readMigrationState(db, dir);
  if (drifted.length > 0) {
    throw new MigrationStateError(
      `the database schema has drifted from this code (${drifted.join(", ")}); restore a backup or fix the migration history before starting`,
    );
  }
  if (pending.length > 0) {
    throw new MigrationStateError(
      `the database has ${pending.length} pending migration(s) (${pending.join(", ")}); run "npm run db:migrate" or start with AUTO_MIGRATE=true`,
    );
  }
}

/** Applies pending migrations with the Prisma CLI (`migrate deploy`), which works offline here. */
export async function deployMigrations(databaseUrl: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve("prisma/package.json")), "build", "index.js");
  const output: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, "migrate", "deploy"], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    throw new MigrationStateError(`applying migrations failed:\n${Buffer.concat(output).toString("utf8")}`);
  }
}

/**
 * Applies pending migrations only when there are any: the Prisma CLI is a child process
 * that costs about a second, which an ordinary restart need not pay. Drift is left for
 * `assertMigrationsApplied` to refuse.
 */
export async function deployPendingMigrations(databaseUrl: string, deploy: (url: string) => Promise<void> = deployMigrations): Promise<string[]> {
  const file = localDatabaseFile(databaseUrl);
  if (file !== null && !(await exists(file))) return createDatabase(file, deploy);
  const db = await openDatabase(databaseUrl);
  let pending: string[];
  try {
    pending = (await readMigrationState(db)).pending;
  } finally {
    await db.$disconnect();
  }
  if (pending.length > 0) await deploy(databaseUrl);
  return pending;
}

/**
 * A first start builds the whole database beside its final name and renames it into place,
 * so a fault half-way (a full disk, a killed process) leaves no database rather than a
 * half-migrated one that every later start would refuse.
 */
async function createDatabase(file: string, deploy: (url: string) => Promise<void>): Promise<string[]> {
  const building = `${file}.building-${process.pid}`;
  const pending = [...(await readShippedMigrations()).keys()];
  try {
    await deploy(`file:${building}`);
    // Fold the write-ahead log into the file, so the rename moves one complete database.
    const db = await openDatabase(`file:${building}`);
    await db.$queryRawUnsafe("PRAGMA wal_checkpoint(TRUNCATE)");
    await db.$disconnect();
    await rename(building, file);
  } finally {
    await Promise.all(["", "-wal", "-shm", "-journal"].map((suffix) => rm(`${building}${suffix}`, { force: true })));
  }
  return pending;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
