import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS_DIR, readShippedMigrations } from "../../src/db/migrations.ts";

const MIGRATION = "20261201001000_certification_history";
const MASTER = "9d3e295c3d6cf1d6386153c2c006d5acf85aac66";

/** A database as it stood before MIGRATION, with one certification made under the master on file. */
async function databaseBefore(): Promise<Database.Database> {
  const db = new Database(":memory:");
  for (const name of (await readShippedMigrations()).keys()) {
    if (name >= MIGRATION) break;
    db.exec(await readFile(path.join(MIGRATIONS_DIR, name, "migration.sql"), "utf8"));
  }
  // Rows without their request and batch, which the migration does not look at.
  db.pragma("foreign_keys = OFF");
  db.prepare(`INSERT INTO "Setting" ("key", "value", "updatedAt") VALUES ('masterFingerprint', ?, 0)`).run(MASTER);
  db.prepare(`INSERT INTO "Certification" ("id", "requestId", "batchNumber", "userId", "signature", "certifiedAt") VALUES ('c1', 'r1', 1, 'Dev <dev@example.org>', x'00', 0)`).run();
  return db;
}

describe(`migration ${MIGRATION}`, () => {
  it("names the master on file as the maker of every earlier certification, in upper case", async () => {
    const db = await databaseBefore();
    try {
      db.exec(await readFile(path.join(MIGRATIONS_DIR, MIGRATION, "migration.sql"), "utf8"));
      const row = db.prepare(`SELECT "masterFingerprint", "supersededAt" FROM "Certification" WHERE "id" = 'c1'`).get();
      assert.deepEqual(row, { masterFingerprint: MASTER.toUpperCase(), supersededAt: null });
    } finally {
      db.close();
    }
  });

  it("lets a user ID hold a second certification from a later batch, but not two from one batch", async () => {
    const db = await databaseBefore();
    try {
      db.exec(await readFile(path.join(MIGRATIONS_DIR, MIGRATION, "migration.sql"), "utf8"));
      const insert = db.prepare(`INSERT INTO "Certification" ("id", "requestId", "batchNumber", "userId", "signature", "certifiedAt") VALUES (?, 'r1', ?, 'Dev <dev@example.org>', x'00', 0)`);
      insert.run("c2", 2);
      assert.throws(() => insert.run("c3", 2), /UNIQUE constraint failed/);
    } finally {
      db.close();
    }
  });
});
