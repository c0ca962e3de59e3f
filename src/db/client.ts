import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.ts";
import { explainFsError, StartupError } from "../startup.ts";

export type Db = PrismaClient;
/** The client handed to a `$transaction` callback. */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

/** The one PrismaClient of the process, on the better-sqlite3 driver adapter. */
export async function openDatabase(databaseUrl: string): Promise<Db> {
  const adapter = new PrismaBetterSQLite3({ url: databaseUrl });
  // Writes are serialised by the driver adapter; waiting a while for the lock beats failing a click.
  const db = new PrismaClient({ adapter, transactionOptions: { maxWait: 10_000, timeout: 20_000 } });
  try {
    // WAL lets the mail worker read while a request writes; busy_timeout makes
    // concurrent writers wait for the lock instead of failing at once.
    await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
    await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
    await db.$queryRawUnsafe("PRAGMA foreign_keys = ON");
    // A damaged file may open and fail only later: read it through once now.
    const [check] = await db.$queryRawUnsafe<Array<{ quick_check: string }>>("PRAGMA quick_check(1)");
    if (check?.quick_check !== "ok") throw new Error(check?.quick_check ?? "quick_check returned nothing");
    return db;
  } catch (error) {
    await db.$disconnect().catch(() => undefined);
    throw databaseFault(databaseUrl, error);
  }
}

/** The path of a `file:` database URL; null for anything else. */
export function localDatabaseFile(databaseUrl: string): string | null {
  return databaseUrl.startsWith("file:") ? (databaseUrl.slice("file:".length).split("?")[0] ?? null) : null;
}

/** Why the database cannot be used, as one line for the person starting the portal. */
export function databaseFault(databaseUrl: string, error: unknown): StartupError {
  const file = localDatabaseFile(databaseUrl) ?? databaseUrl;
  const explained = explainFsError(error, `the database ${file} cannot be opened`, "Check the data directory's permissions and free space.");
  if (explained instanceof StartupError) return explained;
  return new StartupError(
    `the database ${file} cannot be read: it is damaged or not a Keysign database. Restore it from a backup, or move it away to start with an empty database.`,
  );
}
