/**
 * A request form creates one request however often it is sent; a key has one open request at a
 * time, whoever sends it; an applicant has at most a few open requests (a setting); and a
 * refused key is shown again in the form only when it parsed as a public key and nothing else.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { applyTransition } from "../../src/services/request-transitions.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { errorLines, type Browser, type MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { submissionParts, traces } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { TestSmtpServer } from "../helpers/smtp.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/keys");

/** What changed between two snapshots of `traces`. */
function grew(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).flatMap(([name, count]) => (count === before[name] ? [] : [[name, count - (before[name] ?? 0)]])));
}

function keyTextBox(html: string): string {
  return /<textarea id="keyText"[^>]*>([\s\S]*?)<\/textarea>/.exec(html)?.[1] ?? "";
}

describe("the new-request form", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;
  let mark = 0;

  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ LOG_LEVEL: "info", SMTP_URL: await smtp.start() });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });

  /** A signed-in applicant with a fresh key for their own address, and the request form's parts with a token of their form. */
  async function applicant(address: string) {
    const browser = await signInAs(t, address);
    const key = await makeTestKey([{ name: "Dev", email: address }]);
    const { formToken } = await browser.formTokensFrom("/requests/new");
    assert.ok(formToken, "the form carries a token");
    const parts: MultipartPart[] = [{ name: "formToken", value: formToken }, ...(await submissionParts(key, `Dev <${address}>`))];
    return { browser, key, parts };
  }

  const send = (browser: Browser, parts: MultipartPart[]) => browser.postMultipart("/requests", parts, "/requests/new");

  async function delivered(to: string): Promise<number> {
    await t.app.mail.deliverDue();
    return smtp.received.filter((mail) => mail.to.includes(to)).length;
  }

  describe("sent more than once", () => {
    before(() => {
      mark = t.logs.length;
    });
    after(() => assert.deepEqual(errorLines(t.logs.slice(mark)), []));

    it("creates one request, one agreement file and one receipt; sending it again leads to that request", async () => {
      const { browser, parts } = await applicant("twice@example.org");
      const before = await traces(t);
      const first = await send(browser, parts);
      assert.equal(first.statusCode, 303, first.body.slice(0, 800));
      const again = await send(browser, parts);
      assert.equal(again.statusCode, 303);
      assert.equal(again.headers.location, first.headers.location);
      assert.deepEqual(grew(before, await traces(t)), { requests: 1, keys: 1, agreements: 1, files: 1, emails: 1, events: 1, usedFormTokens: 1 });
      assert.equal(await delivered("twice@example.org"), 1);
    });

    it("creates one request when the form is sent twice at once (a double click)", async () => {
      const { browser, parts } = await applicant("double-click@example.org");
      const before = await traces(t);
      const [one, two] = await Promise.all([send(browser, parts), send(browser, parts)]);
      assert.deepEqual([one?.statusCode, two?.statusCode], [303, 303]);
      assert.equal(one?.headers.location, two?.headers.location);
      assert.deepEqual(grew(before, await traces(t)), { requests: 1, keys: 1, agreements: 1, files: 1, emails: 1, events: 1, usedFormTokens: 1 });
      assert.equal(await delivered("double-click@example.org"), 1);
    });

    it("makes one request when two forms for the same key are sent at once, and names it to the other", async () => {
      const { browser, key, parts } = await applicant("two-forms@example.org");
      const { formToken: other } = await browser.formTokensFrom("/requests/new");
      const before = await traces(t);
      const responses = await Promise.all([send(browser, parts), send(browser, [{ name: "formToken", value: other ?? "" }, ...(await submissionParts(key, "Dev <two-forms@example.org>"))])]);
      const made = responses.find((r) => r.statusCode === 303);
      const refused = responses.find((r) => r.statusCode === 409);
      assert.ok(made && refused, responses.map((r) => r.statusCode).join(", "));
      const madeId = String(made.headers.location).split("/").pop() ?? "";
      assert.ok(refused.body.includes(`/requests/${madeId}`), "the refusal names the request made");
      assert.deepEqual(grew(before, await traces(t)), { requests: 1, keys: 1, agreements: 1, files: 1, emails: 1, events: 1, usedFormTokens: 1 });
    });

    it("leads to the request it made when sent again days later, after the request was withdrawn", async () => {
      const { browser, parts } = await applicant("later@example.org");
      const first = await send(browser, parts);
      const id = String(first.headers.location).split("/").pop() ?? "";
      const version = /name="version" value="(\d+)"/.exec((await browser.get(`/requests/${id}`)).body)?.[1] ?? "";
      assert.equal((await browser.postForm(`/requests/${id}/withdraw`, { version }, `/requests/${id}`)).statusCode, 303);
      t.clock.now = new Date(t.clock.now.getTime() + 3 * 86_400_000);
      // Signed in again, since the session ended meanwhile; the page kept in the browser is sent.
      const later = await signInAs(t, "later@example.org");
      const before = await traces(t);
      const again = await send(later, parts);
      assert.equal(again.statusCode, 303);
      assert.equal(again.headers.location, `/requests/submitted/${id}`);
      // The request moved on, so the confirmation hands over to the request's own page.
      const followed = await later.get(String(again.headers.location));
      assert.equal(followed.statusCode, 303);
      assert.equal(followed.headers.location, `/requests/${id}`);
      assert.deepEqual(await traces(t), before);
    });

    it("refuses a form without its token, or with another applicant's, storing nothing, and gives the form back with a fresh token", async () => {
      const { browser, key, parts } = await applicant("tokenless@example.org");
      const mallory = await signInAs(t, "mallory@example.org");
      const { formToken: hers } = await mallory.formTokensFrom("/requests/new");
      const before = await traces(t);
      for (const token of ["", "not-a-token", hers ?? ""]) {
        const response = await send(browser, [{ name: "formToken", value: token }, ...parts.slice(1)]);
        assert.equal(response.statusCode, 400, token);
        assert.match(response.body, /This form is out of date/);
        assert.match(response.body, /Step 2 of 2/);
        assert.deepEqual(await traces(t), before);
      }
      const refused = await send(browser, [{ name: "formToken", value: "" }, ...parts.slice(1)]);
      const fresh = /name="formToken" value="([^"]+)"/.exec(refused.body)?.[1] ?? "";
      assert.notEqual(fresh, "");
      const resent = await send(browser, [{ name: "formToken", value: fresh }, ...(await submissionParts(key, "Dev <tokenless@example.org>"))]);
      assert.equal(resent.statusCode, 303, resent.body.slice(0, 800));
    });
  });

  describe("one open request per key", () => {
    let owner: Awaited<ReturnType<typeof applicant>>;
    let id: string;

    before(async () => {
      mark = t.logs.length;
      owner = await applicant("owner@example.org");
      id = String((await send(owner.browser, owner.parts)).headers.location).split("/").pop() ?? "";
      assert.match(id, /^[0-9a-f-]{36}$/);
    });
    after(() => assert.deepEqual(errorLines(t.logs.slice(mark)), []));

    it("names the open request when its owner sends the key again, at both steps, and stores nothing", async () => {
      const before = await traces(t);
      const keyStep = await owner.browser.postMultipart("/requests/new", [{ name: "keyText", value: owner.key.publicArmored }], "/requests/new");
      assert.equal(keyStep.statusCode, 409);
      assert.match(keyStep.body, new RegExp(`You already have an open request for this key \\(submitted\\): /requests/${id}`));
      assert.match(keyTextBox(keyStep.body), /^-----BEGIN PGP PUBLIC KEY BLOCK-----/, "the pasted key comes back");

      const again = await owner.browser.postMultipart("/requests", await submissionParts(owner.key, "Dev <owner@example.org>"), "/requests/new");
      assert.equal(again.statusCode, 409);
      assert.match(again.body, new RegExp(`/requests/${id}`));
      assert.deepEqual(await traces(t), before);
    });

    it("tells another account that the key has an open request, without naming it", async () => {
      const other = await signInAs(t, "owner@elsewhere.example");
      const before = await traces(t);
      const response = await other.postMultipart("/requests/new", [{ name: "keyText", value: owner.key.publicArmored }], "/requests/new");
      assert.equal(response.statusCode, 409);
      assert.match(response.body, /This key already has an open certification request from another account/);
      assert.doesNotMatch(response.body, new RegExp(id));
      assert.deepEqual(await traces(t), before);
    });

    it("lets a revision keep its own key, but not take the key of another open request", async () => {
      const second = await makeTestKey([{ name: "Dev", email: "owner@example.org" }]);
      const created = await owner.browser.postMultipart("/requests", await submissionParts(second, "Dev <owner@example.org>"), "/requests/new");
      assert.equal(created.statusCode, 303, created.body.slice(0, 800));
      const secondId = String(created.headers.location).split("/").pop() ?? "";
      await t.app.db.$transaction((tx) =>
        applyTransition(tx, { requestId: secondId, event: "request_changes", actor: { type: "staff", id: "staff-1", ip: null }, now: t.clock.now, data: { reason: "Sign page 2." } }),
      );
      const version = /name="version" value="(\d+)"/.exec((await owner.browser.get(`/requests/${secondId}/revise`)).body)?.[1] ?? "";
      const before = await traces(t);
      const taken = await owner.browser.postMultipart(`/requests/${secondId}/revise`, [{ name: "version", value: version }, ...(await submissionParts(owner.key, "Dev <owner@example.org>"))], `/requests/${secondId}/revise`);
      assert.equal(taken.statusCode, 409);
      assert.match(taken.body, new RegExp(`/requests/${id}`));
      assert.deepEqual(await traces(t), before);
      const kept = await owner.browser.postMultipart(`/requests/${secondId}/revise`, [{ name: "version", value: version }, ...(await submissionParts(second, "Dev <owner@example.org>"))], `/requests/${secondId}/revise`);
      assert.equal(kept.statusCode, 303, kept.body.slice(0, 800));
    });

    it("takes the key again once its request is withdrawn", async () => {
      const version = /name="version" value="(\d+)"/.exec((await owner.browser.get(`/requests/${id}`)).body)?.[1] ?? "";
      assert.equal((await owner.browser.postForm(`/requests/${id}/withdraw`, { version }, `/requests/${id}`)).statusCode, 303);
      const response = await owner.browser.postMultipart("/requests", await submissionParts(owner.key, "Dev <owner@example.org>"), "/requests/new");
      assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    });
  });

  describe("open requests per applicant", () => {
    before(() => {
      mark = t.logs.length;
    });
    after(() => assert.deepEqual(errorLines(t.logs.slice(mark)), []));

    async function newKeyParts(address: string): Promise<{ key: TestKey; parts: MultipartPart[] }> {
      const key = await makeTestKey([{ name: "Dev", email: address }]);
      return { key, parts: await submissionParts(key, `Dev <${address}>`) };
    }

    it("takes three open requests by default, refuses a fourth at both steps with a message, and takes it once one is withdrawn", async () => {
      const address = "busy@example.org";
      const browser = await signInAs(t, address);
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const response = await browser.postMultipart("/requests", (await newKeyParts(address)).parts, "/requests/new");
        assert.equal(response.statusCode, 303, response.body.slice(0, 800));
        ids.push(String(response.headers.location).split("/").pop() ?? "");
      }
      const fourth = await newKeyParts(address);
      const before = await traces(t);
      const keyStep = await browser.postMultipart("/requests/new", [{ name: "keyText", value: fourth.key.publicArmored }], "/requests/new");
      assert.equal(keyStep.statusCode, 409);
      assert.match(keyStep.body, /You already have 3 open requests, the most one account may have at a time/);
      const submitted = await browser.postMultipart("/requests", fourth.parts, "/requests/new");
      assert.equal(submitted.statusCode, 409);
      assert.match(submitted.body, /You already have 3 open requests/);
      assert.deepEqual(await traces(t), before);

      const version = /name="version" value="(\d+)"/.exec((await browser.get(`/requests/${ids[0]}`)).body)?.[1] ?? "";
      assert.equal((await browser.postForm(`/requests/${ids[0]}/withdraw`, { version }, `/requests/${ids[0]}`)).statusCode, 303);
      const taken = await browser.postMultipart("/requests", fourth.parts, "/requests/new");
      assert.equal(taken.statusCode, 303, taken.body.slice(0, 800));
    });

    it("is an admin setting, audited, with its range enforced", async () => {
      await createStaff(t, { email: "settings-admin@keysign.example", roles: ["admin"] });
      const admin = await signInStaff(t, "settings-admin@keysign.example");
      const page = await admin.get("/admin/settings");
      assert.match(page.body, /name="openRequestsPerApplicant"[^>]* value="3"/);
      const form = { approvalsRequired: "2", certificationValidityDays: "730", policyUrl: "", organisationName: "", certificationDomain: "" };
      const refused = await admin.postForm("/admin/settings", { ...form, openRequestsPerApplicant: "0" }, "/admin/settings");
      assert.equal(refused.statusCode, 400);
      assert.match(refused.body, /Open requests per applicant must be a whole number from 1 to 20/);
      const saved = await admin.postForm("/admin/settings", { ...form, openRequestsPerApplicant: "1" }, "/admin/settings");
      assert.equal(saved.statusCode, 303);
      const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "settings.update" }, orderBy: { seq: "desc" } });
      assert.deepEqual(JSON.parse(event.data).openRequestsPerApplicant, { from: 3, to: 1 });

      const address = "single@example.org";
      const browser = await signInAs(t, address);
      assert.equal((await browser.postMultipart("/requests", (await newKeyParts(address)).parts, "/requests/new")).statusCode, 303);
      const before = await traces(t);
      const second = await browser.postMultipart("/requests", (await newKeyParts(address)).parts, "/requests/new");
      assert.equal(second.statusCode, 409);
      assert.match(second.body, /You already have 1 open request, the most/);
      assert.deepEqual(await traces(t), before);
    });
  });

  describe("a refused key in the text box", () => {
    let dev: Browser;

    before(async () => {
      dev = await signInAs(t, "echo@example.org");
    });

    async function stepOne(keyText: string) {
      return dev.postMultipart("/requests/new", [{ name: "keyText", value: keyText }], "/requests/new");
    }

    it("is never shown again when it holds secret key material", async () => {
      const secret = await makeTestKey([{ name: "Dev", email: "echo@example.org" }]);
      const response = await stepOne(secret.privateArmored);
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /Secret key material detected/);
      assert.equal(keyTextBox(response.body), "");
    });

    it("is never shown again when it is compressed", async () => {
      const response = await stepOne(await readFile(path.join(FIXTURES, "compressed.asc"), "utf8"));
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /compressed data/);
      assert.equal(keyTextBox(response.body), "");
    });

    it("is never shown again when it is not a key at all", async () => {
      const response = await stepOne("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n<script>nonsense</script>\n-----END PGP PUBLIC KEY BLOCK-----");
      assert.equal(response.statusCode, 400);
      assert.equal(keyTextBox(response.body), "");
    });

    it("is shown again for correction when it parsed as a public key, e.g. an expired one", async () => {
      const expired = await readFile(path.join(FIXTURES, "expired.asc"), "utf8");
      const response = await stepOne(expired);
      assert.equal(response.statusCode, 400);
      assert.match(response.body, /expired/);
      assert.match(keyTextBox(response.body), /-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    });
  });
});
