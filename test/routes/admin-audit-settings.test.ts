import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/keys");

describe("audit log and settings (admin)", () => {
  let t: TestApp;
  let admin: Browser;

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "root@keysign.example", roles: ["admin", "reviewer"] });
    admin = await signInStaff(t, "root@keysign.example");
    await submitRequest(t, "audited@example.org");
  });
  after(async () => t.close());

  it("lists events newest first, filters by action and reports the chain intact", async () => {
    const page = await admin.get("/admin/audit?action=request.submit");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /audit log intact: \d+ event\(s\)/);
    assert.match(page.body, /<code>request.submit<\/code>/);
    assert.doesNotMatch(page.body, /<code>applicant.signed_in<\/code>/);
  });

  it("exports CSV with every cell quoted and formulas neutralised", async () => {
    const csv = await admin.get("/admin/audit.csv");
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers["content-type"]), /^text\/csv/);
    assert.match(String(csv.headers["content-disposition"]), /attachment/);
    const lines = csv.body.trim().split("\r\n");
    assert.equal(lines[0], '"seq","at","actor_type","actor","ip","action","request_id","from_state","to_state","data","hash"');
    assert.equal(lines.length - 1, await t.app.db.auditEvent.count());
    assert.ok(lines.every((line) => line.startsWith('"')));
  });

  it("shows a broken chain after a row was edited", async () => {
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "request.submit" } });
    await t.app.db.auditEvent.update({ where: { seq: event.seq }, data: { ip: "203.0.113.9" } });
    try {
      const page = await admin.get("/admin/audit");
      assert.match(page.body, new RegExp(`audit log BROKEN at event ${event.seq}: its contents do not match its hash`));
    } finally {
      await t.app.db.auditEvent.update({ where: { seq: event.seq }, data: { ip: event.ip } });
    }
  });

  it("saves settings with an audit event recording old and new values", async () => {
    const response = await admin.postForm("/admin/settings", { approvalsRequired: "1", certificationValidityDays: "365", policyUrl: "https://example.org/policy" }, "/admin/settings");
    assert.equal(response.statusCode, 303);
    const page = await admin.get("/admin/settings?saved=1");
    assert.match(page.body, /Saved\./);
    assert.match(page.body, /name="approvalsRequired" type="text" inputmode="numeric" value="1"/);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "settings.update" }, orderBy: { seq: "desc" } });
    assert.deepEqual(JSON.parse(event.data).approvalsRequired, { from: 2, to: 1 });
  });

  for (const [label, body, message] of [
    ["a quorum of 0", { approvalsRequired: "0", certificationValidityDays: "365", policyUrl: "" }, /Approvals required must be a whole number from 1 to 5/],
    ["a validity in words", { approvalsRequired: "2", certificationValidityDays: "two years", policyUrl: "" }, /validity must be a whole number of days/],
    ["a plain-http policy URL", { approvalsRequired: "2", certificationValidityDays: "365", policyUrl: "http://example.org/p" }, /must be a full https:\/\/ address/],
  ] as const) {
    it(`refuses ${label} and changes nothing`, async () => {
      const before = await t.app.db.setting.findMany({ orderBy: { key: "asc" } });
      const response = await admin.postForm("/admin/settings", { ...body }, "/admin/settings");
      assert.equal(response.statusCode, 400);
      assert.match(response.body, message);
      assert.deepEqual(await t.app.db.setting.findMany({ orderBy: { key: "asc" } }), before);
    });
  }

  it("refuses a secret key as the master key and stores nothing of it", async () => {
    const secret = await readFile(path.join(FIXTURES, "ed25519-good-secret.asc"), "utf8");
    const response = await admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: secret }], "/admin/settings");
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /Secret key material detected; nothing was stored/);
    assert.doesNotMatch(response.body, /PRIVATE KEY/);
    assert.equal(await t.app.db.setting.count({ where: { key: "masterPublicKey" } }), 0);
  });

  it("takes the master public key and shows its fingerprint and user IDs", async () => {
    const publicKey = await readFile(path.join(FIXTURES, "rsa4096.asc"));
    const response = await admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyFile", filename: "master.asc", content: publicKey }], "/admin/settings");
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, "/admin/settings?saved=master");
    const page = await admin.get("/admin/settings");
    assert.match(page.body, /<dt>Fingerprint<\/dt><dd class="fingerprint">([0-9A-F]{4} ){9}[0-9A-F]{4}<\/dd>/);
    const saved = await admin.get("/admin/settings?saved=master");
    assert.match(saved.body, /Master public key saved\. Its fingerprint is <span class="fingerprint">([0-9A-F]{4} ){9}[0-9A-F]{4}<\/span>/);
  });
});
