import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { hashToken } from "../../src/core/tokens.ts";
import { templateDatabase } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { Browser } from "../helpers/http.ts";

const PUBLIC_URL = "https://keysign.example.org";

/** Runs the real command in a child process, as an operator would. */
const keysign = (args: string[], dataDir: string) => runKeysign(args, dataDir, { PUBLIC_URL, LOG_LEVEL: "silent" });

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

describe("keysign staff create", () => {
  let dataDir: string;
  let app: FastifyInstance;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), "keysign-cli-"));
    await copyFile(await templateDatabase(), path.join(dataDir, "keysign.db"));
    const config = loadConfig({ DATA_DIR: dataDir, PUBLIC_URL, LOG_LEVEL: "silent", MAIL_WORKER: "false", AUTO_MIGRATE: "false" });
    app = await buildApp({ config });
    await app.ready();
  });
  after(async () => {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("prints a one-time link that creates the account with the given roles", async () => {
    const run = await keysign(["staff", "create", "--email", "Boss@Example.org", "--role", "admin", "--role", "reviewer"], dataDir);
    assert.equal(run.code, 0, run.stderr);
    // Standard output is the link alone, so scripts can take it as it is.
    assert.match(run.stdout, /^https:\/\/keysign\.example\.org\/admin\/setup\?token=[A-Za-z0-9_-]{22}\n$/);
    assert.match(run.stderr, /One-time link for boss@example.org \(Admin, Reviewer\), valid until /);
    const link = new URL(run.stdout.trim());
    const token = link.searchParams.get("token")!;
    const row = await app.db.linkToken.findUniqueOrThrow({ where: { tokenHash: hashToken(token) } });
    assert.equal(row.purpose, "staff-setup");
    assert.equal(row.address, "boss@example.org");
    assert.equal(row.staffRoles, "reviewer,admin");
    assert.equal((await app.db.auditEvent.findFirstOrThrow({ orderBy: { seq: "desc" } })).action, "staff.setup_link_created");

    const browser = new Browser(app);
    const page = await browser.get(link.pathname + link.search);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Account address: <strong>boss@example.org<\/strong>/);
    const password = "granite willow orbit 9";
    const created = await browser.postForm("/admin/setup", { token, password, passwordAgain: password }, link.pathname + link.search);
    assert.equal(created.statusCode, 303);
    assert.equal(created.headers.location, "/admin/enrol");
    assert.equal((await app.db.staff.findUniqueOrThrow({ where: { email: "boss@example.org" } })).roles, "reviewer,admin");

    const again = await keysign(["staff", "create", "--email", "boss@example.org", "--role", "admin"], dataDir);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /a staff account for boss@example.org already exists/);
    assert.equal(again.stdout, "");
  });

  it("documents its exit codes in --help", async () => {
    const run = await keysign(["--help"], dataDir);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /staff create --email ADDRESS --role ROLE/);
    for (const code of ["0  done", "1  unexpected failure", "2  wrong usage", "3  the database is missing or not migrated", "4  refused"]) {
      assert.ok(run.stdout.includes(code), code);
    }
  });

  it("refuses wrong usage with exit code 2 and stores nothing", async () => {
    const before = await app.db.linkToken.count();
    const cases: Array<[string[], RegExp]> = [
      [["staff", "create", "--role", "admin"], /--email is required/],
      [["staff", "create", "--email", "x\r\nBcc: y@example.org", "--role", "admin"], /is not an email address/],
      [["staff", "create", "--email", "a@example.org"], /at least one --role is required/],
      [["staff", "create", "--email", "a@example.org", "--role", "root"], /unknown role "root"/],
      [["staff", "create", "--email", "a@example.org", "--role", "admin", "--password", "x"], /Unknown option '--password'/],
      [["staff", "remove"], /unknown command "staff remove"/],
      [[], /usage: keysign <command>/],
    ];
    await Promise.all(
      cases.map(async ([args, message]) => {
        const run = await keysign(args, dataDir);
        assert.equal(run.code, 2, args.join(" "));
        assert.match(run.stderr, message);
        assert.equal(run.stdout, "");
      }),
    );
    assert.equal(await app.db.linkToken.count(), before);
  });

  it("exits 3 when the database is missing (without creating one) or not migrated", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "keysign-cli-empty-"));
    try {
      const missing = await keysign(["staff", "create", "--email", "a@example.org", "--role", "admin"], empty);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /no database at .*keysign\.db; start the portal once or run "npm run db:migrate"/);
      assert.equal(await exists(path.join(empty, "keysign.db")), false);

      await writeFile(path.join(empty, "keysign.db"), "");
      const unmigrated = await keysign(["staff", "create", "--email", "a@example.org", "--role", "admin"], empty);
      assert.equal(unmigrated.code, 3);
      assert.match(unmigrated.stderr, /pending migration/);
      assert.equal(unmigrated.stdout, "");
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
