import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { openDatabase, type Db } from "../../src/db/client.ts";
import { assertMigrationsApplied, deployMigrations, deployPendingMigrations, MigrationStateError, readMigrationState, readShippedMigrations } from "../../src/db/migrations.ts";
import { templateDatabase } from "../helpers/app.ts";

describe("startup migration check", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "keysign-migrations-"));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function withDb<T>(name: string, fromTemplate: boolean, use: (db: Db) => Promise<T>): Promise<T> {
    const file = path.join(dir, name);
    if (fromTemplate) await copyFile(await templateDatabase(), file);
    const db = await openDatabase(`file:${file}`);
    try {
      return await use(db);
    } finally {
      await db.$disconnect();
    }
  }

  it("passes on a fully migrated database", async () => {
    await withDb("ok.db", true, async (db) => {
      assert.deepEqual(await readMigrationState(db), { pending: [], drifted: [] });
      await assertMigrationsApplied(db);
    });
  });

  it("refuses an empty database: every migration is pending", async () => {
    await withDb("empty.db", false, async (db) => {
      const state = await readMigrationState(db);
      assert.ok(state.pending.length >= 1);
      await assert.rejects(assertMigrationsApplied(db), (error: Error) => error instanceof MigrationStateError && /pending migration/.test(error.message));
    });
  });

  it("refuses a database whose applied migration differs from the shipped file", async () => {
    await withDb("drift.db", true, async (db) => {
      await db.$executeRawUnsafe("UPDATE _prisma_migrations SET checksum = 'edited'");
      await assert.rejects(assertMigrationsApplied(db), /drifted/);
    });
  });

  it("refuses a database with a migration this code does not know", async () => {
    await withDb("unknown.db", true, async (db) => {
      await db.$executeRawUnsafe(
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, applied_steps_count) VALUES ('x', 'y', '29990101000000_future', 0, 0, 1)",
      );
      assert.deepEqual((await readMigrationState(db)).drifted, ["29990101000000_future"]);
    });
  });

  it("refuses a migration that failed half-way", async () => {
    await withDb("failed.db", true, async (db) => {
      await db.$executeRawUnsafe("UPDATE _prisma_migrations SET finished_at = NULL");
      await assert.rejects(assertMigrationsApplied(db), /drifted/);
    });
  });

  it("applies pending migrations at start, and only when some are pending", async () => {
    const url = `file:${path.join(dir, "auto.db")}`;
    const shipped = [...(await readShippedMigrations()).keys()];
    assert.deepEqual(await deployPendingMigrations(url), shipped);
    assert.deepEqual(await deployPendingMigrations(url), []);
    await withDb("auto.db", false, (db) => assertMigrationsApplied(db));
  });

  it("leaves no database after a first start that fails half-way, and a complete one after the next", async () => {
    const file = path.join(dir, "first.db");
    // The real migration runs, then the fault strikes (a full disk, a killed process) before it is done.
    const failing = async (url: string) => {
      await deployMigrations(url);
      throw new Error("ENOSPC: no space left on device");
    };
    await assert.rejects(deployPendingMigrations(`file:${file}`, failing), /ENOSPC/);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("first.db")), [], "neither the database nor a half-built one is left");
    assert.deepEqual(await deployPendingMigrations(`file:${file}`), [...(await readShippedMigrations()).keys()]);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith("first.db")), ["first.db"]);
    await withDb("first.db", false, (db) => assertMigrationsApplied(db));
  });

  it("keeps the portal from starting on a database with pending migrations", async () => {
    const dataDir = path.join(dir, "app");
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: "silent", MAIL_WORKER: "false" });
    await assert.rejects(buildApp({ config }), /pending migration/);
  });
});
