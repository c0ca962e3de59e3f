import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { openDatabase, type Db } from "../../src/db/client.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { submitRequest } from "../helpers/requests.ts";

const keysign = (args: string[], dataDir: string) => runKeysign(args, dataDir);

describe("keysign audit verify", () => {
  let t: TestApp;
  let db: Db;

  before(async () => {
    t = await createTestApp();
    await submitRequest(t, "one@example.org");
    await submitRequest(t, "two@example.org");
    await t.app.close();
    db = await openDatabase(`file:${path.join(t.dataDir, "keysign.db")}`);
  });
  after(async () => {
    await db.$disconnect();
    await t.close().catch(() => undefined);
  });

  it("reports an intact chain with exit code 0", async () => {
    const run = await keysign(["audit", "verify"], t.dataDir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^audit log intact: \d+ event\(s\), head [0-9a-f]{64}\n$/);
  });

  it("names the first edited row, with exit code 5", async () => {
    const target = await db.auditEvent.findFirstOrThrow({ where: { action: "request.submit" } });
    await db.auditEvent.update({ where: { seq: target.seq }, data: { data: "{}" } });
    try {
      const run = await keysign(["audit", "verify"], t.dataDir);
      assert.equal(run.code, 5);
      assert.equal(run.stderr, `audit log BROKEN at event ${target.seq}: its contents do not match its hash (the row was edited)\n`);
    } finally {
      await db.auditEvent.update({ where: { seq: target.seq }, data: { data: target.data } });
    }
  });

  it("names the row after a deleted one, with exit code 5", async () => {
    const all = await db.auditEvent.findMany({ orderBy: { seq: "asc" } });
    const victim = all[2]!;
    await db.auditEvent.delete({ where: { seq: victim.seq } });
    try {
      const run = await keysign(["audit", "verify"], t.dataDir);
      assert.equal(run.code, 5);
      assert.match(run.stderr, new RegExp(`BROKEN at event ${victim.seq + 1}: events before it are missing`));
    } finally {
      await db.auditEvent.create({ data: victim });
    }
    assert.equal((await keysign(["audit", "verify"], t.dataDir)).code, 0);
  });

  it("refuses arguments with a usage message (exit 2)", async () => {
    const run = await keysign(["audit", "verify", "--fix"], t.dataDir);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /usage: keysign audit verify/);
  });
});
