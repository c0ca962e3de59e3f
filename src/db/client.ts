import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.ts";

export type Db = PrismaClient;
/** The client handed to a `$transaction` callback. */
export type Tx = Parameters<Parameters<PrismaClient["$transaction"]>[0]>[0];

/** The one PrismaClient of the process, on the better-sqlite3 driver adapter. */
export async function openDatabase(databaseUrl: string): Promise<Db> {
  const adapter = new PrismaBetterSQLite3({ url: databaseUrl });
  // Writes are serialised by the driver adapter; waiting a while for the lock beats failing a click.
  const db = new PrismaClient({ adapter, transactionOptions: { maxWait: 10_000, timeout: 20_000 } });
  // WAL lets the mail worker read while a request writes; busy_timeout makes
  // concurrent writers wait for the lock instead of failing at once.
  await db.$queryRawUnsafe("PRAGMA journal_mode = WAL");
  await db.$queryRawUnsafe("PRAGMA busy_timeout = 5000");
  await db.$queryRawUnsafe("PRAGMA foreign_keys = ON");
  return db;
}
