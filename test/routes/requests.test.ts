import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { verifyAuditChain } from "../../src/core/audit-chain.ts";
import { listAuditChain } from "../../src/repositories/audit.ts";
import { applyTransition } from "../../src/services/request-transitions.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser, MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { signInAs } from "../helpers/session.ts";
import { formatFingerprint } from "../../src/core/key-policy.ts";

const PDF = await readFile(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf"));

describe("the applicant's requests", () => {
  let t: TestApp;
  let dev: Browser;
  let key: TestKey;
  let otherKey: TestKey;
  let signature: string;

  before(async () => {
    t = await createTestApp({ LOG_LEVEL: process.env.TEST_LOG ?? "silent" });
    key = await makeTestKey([{ name: "Dev", email: "dev@example.org" }, { name: "Dev Elsewhere", email: "dev@elsewhere.example" }]);
    otherKey = await makeTestKey([{ name: "Mallory", email: "mallory@example.org" }]);
    signature = await key.sign(PDF);
    dev = await signInAs(t, "dev@example.org");
  });
  after(async () => t.close());

  function details(overrides: Record<string, string | null> = {}, files: Partial<Record<"agreement" | "signature", Uint8Array | null>> = {}): MultipartPart[] {
    const fields: Record<string, string | null> = {
      keyText: key.publicArmored,
      certifyUserIds: "Dev <dev@example.org>",
      licence: "GPL-3.0-or-later",
      projectUrls: "https://github.com/dev/module",
      attestOpenSource: "on",
      attestNotCommercial: "on",
      attestAgreement: "on",
      ...overrides,
    };
    const parts: MultipartPart[] = Object.entries(fields).flatMap(([name, value]) => (value === null ? [] : [{ name, value }]));
    const agreement = "agreement" in files ? files.agreement : PDF;
    const sig = "signature" in files ? files.signature : Buffer.from(signature);
    if (agreement) parts.push({ name: "agreement", filename: "Signed agreement.pdf", content: agreement, contentType: "application/pdf" });
    if (sig) parts.push({ name: "signature", filename: "agreement.pdf.asc", content: sig });
    return parts;
  }

  async function counts() {
    const agreements = await readdir(path.join(t.dataDir, "agreements"));
    const tmp = await readdir(path.join(t.dataDir, "tmp"));
    return {
      requests: await t.app.db.request.count(),
      keys: await t.app.db.requestKey.count(),
      agreements: await t.app.db.agreement.count(),
      files: agreements.length + tmp.length,
      emails: await t.app.db.outboxEmail.count(),
      events: await t.app.db.auditEvent.count(),
    };
  }

  async function submit(browser: Browser, parts: MultipartPart[]) {
    return browser.postMultipart("/requests", parts, "/requests/new");
  }

  it("shows the key's facts and user IDs after step one, offering only confirmed addresses", async () => {
    const response = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    assert.equal(response.statusCode, 200);
    assert.match(response.body, new RegExp(formatFingerprint(key.fingerprint)));
    assert.match(response.body, /name="certifyUserIds" value="Dev &lt;dev@example.org&gt;" checked/);
    assert.match(response.body, /<input type="checkbox" disabled> Dev Elsewhere &lt;dev@elsewhere.example&gt;<\/label>/);
    assert.match(response.body, /name="sendConfirmation" value="dev@elsewhere.example">Send a confirmation link to dev@elsewhere.example<\/button>/);
  });

  it("accepts the key as an uploaded binary file too", async () => {
    const binary = (await openpgp.readKey({ armoredKey: key.publicArmored })).write();
    const response = await dev.postMultipart("/requests/new", [{ name: "keyFile", filename: "key.gpg", content: binary }], "/requests/new");
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /Step 2 of 2/);
  });

  it("creates the request with its audit event and receipt email, and shows it", async () => {
    const before = await counts();
    const response = await submit(dev, details());
    assert.equal(response.statusCode, 303, response.body.slice(0, 2000));
    const submitted = response.headers.location ?? "";
    const id = /^\/requests\/submitted\/([0-9a-f-]{36})$/.exec(submitted)?.[1] ?? "";
    assert.ok(id, `a new request lands on its confirmation page, not ${submitted}`);
    const location = `/requests/${id}`;
    const after = await counts();
    assert.deepEqual(
      { requests: after.requests - before.requests, keys: after.keys - before.keys, agreements: after.agreements - before.agreements, files: after.files - before.files, emails: after.emails - before.emails },
      { requests: 1, keys: 1, agreements: 1, files: 1, emails: 1 },
    );
    const confirmation = await dev.get(submitted);
    assert.equal(confirmation.statusCode, 200);
    assert.match(confirmation.body, /What happens next/);
    // The review quorum comes from the settings (2 by default), then the ceremony.
    assert.match(confirmation.body, /2 different staff members check your key/);
    assert.match(confirmation.body, /next signing ceremony/);
    assert.doesNotMatch(confirmation.body, /Signing ceremonies are held/, "no schedule is set, so none is promised");
    assert.ok(confirmation.body.includes(`href="${location}"`), "the confirmation links to the request");
    const page = await dev.get(location);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Submitted/);
    assert.match(page.body, /<li class="tracker-step tracker-current" aria-current="step">\s*<span class="tracker-name">In review<\/span>/);
    assert.match(page.body, /0 of 2 approvals/);
    assert.match(page.body, /2 more approvals are needed/);
    assert.match(page.body, /You submitted the request/);
    assert.match(page.body, new RegExp(formatFingerprint(key.fingerprint)));
    assert.match(page.body, /Signed agreement.pdf/);
    const sha = (await import("node:crypto")).createHash("sha256").update(PDF).digest("hex");
    assert.match(page.body, new RegExp(sha));
    assert.match(page.body, /Dev &lt;dev@example.org&gt; <span class="tag">to be certified<\/span>/);
    const list = await dev.get("/requests");
    assert.match(list.body, new RegExp(location));
    const receipt = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "request-received" } });
    assert.equal(receipt.recipient, "dev@example.org");
    assert.deepEqual(verifyAuditChain(await listAuditChain(t.app.db)).ok, true);
    // A key has one open request at a time: withdrawn, the key may be sent again by the tests below.
    const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
    assert.equal((await dev.postForm(`${location}/withdraw`, { version }, location)).statusCode, 303);
    const withdrawn = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "request-withdrawn" } });
    assert.equal(withdrawn.recipient, "dev@example.org");
    assert.match(withdrawn.text, new RegExp(`was withdrawn[\\s\\S]*${location}`));
    const ended = await dev.get(location);
    assert.match(ended.body, /You withdrew this request/);
    assert.match(ended.body, /href="\/requests\/new">Start a new request/);
    assert.doesNotMatch(ended.body, /class="tracker"/);
  });

  it("shows the confirmation page only to the request's owner", async () => {
    const other = await signInAs(t, "other@example.org");
    const mine = await t.app.db.request.findFirstOrThrow({ where: { applicant: { email: "dev@example.org" } } });
    assert.equal((await other.get(`/requests/submitted/${mine.id}`)).statusCode, 404);
  });

  const refusals: Array<{ name: string; parts: () => MultipartPart[]; status: number; message: RegExp }> = [
    { name: "no agreement", parts: () => details({}, { agreement: null }), status: 400, message: /Attach the executed Key Signing Agreement as a PDF/ },
    { name: "an agreement that is not a PDF", parts: () => details({}, { agreement: Buffer.from("PK\u0003\u0004zip") }), status: 400, message: /The agreement is not a PDF file/ },
    { name: "no signature", parts: () => details({}, { signature: null }), status: 400, message: /Attach the detached signature of the agreement/ },
    { name: "an unconfirmed user ID", parts: () => details({ certifyUserIds: "Dev Elsewhere <dev@elsewhere.example>" }), status: 400, message: /is not confirmed on your account/ },
    { name: "a user ID not on the key", parts: () => details({ certifyUserIds: "Someone <someone@example.org>" }), status: 400, message: /is not on this key/ },
    { name: "no user ID", parts: () => details({ certifyUserIds: null }), status: 400, message: /Choose at least one user ID/ },
    { name: "a licence that is not GPL-compatible", parts: () => details({ licence: "Proprietary" }), status: 400, message: /Choose the licence your modules are published under/ },
    { name: "a missing attestation", parts: () => details({ attestNotCommercial: null }), status: 400, message: /will not sign commercial modules/ },
    { name: "a bad project URL", parts: () => details({ projectUrls: "javascript:alert(1)" }), status: 400, message: /is not a web address/ },
    { name: "a malformed key", parts: () => details({ keyText: "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnonsense\n-----END PGP PUBLIC KEY BLOCK-----" }), status: 400, message: /not an OpenPGP public key/i },
  ];
  for (const refusal of refusals) {
    it(`refuses ${refusal.name} with a message, keeping the form and storing nothing`, async () => {
      const before = await counts();
      const response = await submit(dev, refusal.parts());
      assert.equal(response.statusCode, refusal.status);
      assert.match(response.body, refusal.message);
      assert.match(response.body, /nothing was stored/);
      assert.deepEqual(await counts(), before);
    });
  }

  it("keeps what was typed when the form comes back", async () => {
    const response = await submit(dev, details({ projectUrls: "https://github.com/dev/kept\nftp://bad" }));
    assert.equal(response.statusCode, 400);
    assert.match(response.body, />https:\/\/github.com\/dev\/kept\nftp:\/\/bad<\/textarea>/);
    assert.match(response.body, /<option value="GPL-3.0-or-later" selected>/);
    assert.match(response.body, /name="attestOpenSource" checked/);
  });

  it("refuses a signature made by another key", async () => {
    const before = await counts();
    const response = await submit(dev, details({}, { signature: Buffer.from(await otherKey.sign(PDF)) }));
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /which is not this key nor one of its signing subkeys/);
    assert.deepEqual(await counts(), before);
  });

  it("refuses a signature over other bytes than the uploaded agreement", async () => {
    const before = await counts();
    const altered = Buffer.concat([PDF, Buffer.from("\n% changed after signing\n")]);
    const response = await submit(dev, details({}, { agreement: altered }));
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /the signature does not match this file/);
    assert.deepEqual(await counts(), before);
  });

  it("refuses a secret key pasted in step one and stores nothing", async () => {
    const before = await counts();
    const response = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.privateArmored }], "/requests/new");
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /Secret key material detected; nothing was stored/);
    assert.doesNotMatch(response.body, /PRIVATE KEY BLOCK/);
    assert.deepEqual(await counts(), before);
  });

  it("refuses an agreement over 10 MiB with 413 and leaves no file", async () => {
    const before = await counts();
    const huge = Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(10 * 1024 * 1024 + 10), Buffer.from("%%EOF")]);
    const response = await submit(dev, details({}, { agreement: huge }));
    assert.equal(response.statusCode, 413);
    assert.match(response.body, /larger than allowed/);
    assert.deepEqual(await counts(), before);
  });

  it("refuses a form without its CSRF token", async () => {
    const before = await counts();
    const { multipartBody } = await import("../helpers/http.ts");
    const { body, contentType } = multipartBody(details());
    const response = await t.app.inject({ method: "POST", url: "/requests", headers: { "content-type": contentType, cookie: `ks_session=${dev.cookie("ks_session")}` }, payload: body });
    assert.equal(response.statusCode, 403);
    assert.deepEqual(await counts(), before);
  });

  describe("with a submitted request", () => {
    let id: string;
    before(async () => {
      const response = await submit(dev, details());
      id = (response.headers.location ?? "").split("/").pop() ?? "";
    });

    it("serves the agreement to its owner as a sandboxed attachment", async () => {
      const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
      const response = await dev.get(`/requests/${id}/agreements/${agreement.id}`);
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers["content-security-policy"], "sandbox");
      assert.equal(response.headers["x-content-type-options"], "nosniff");
      assert.match(String(response.headers["content-disposition"]), /^attachment;/);
      assert.deepEqual(response.rawPayload, PDF);
    });

    it("hides the request and its files from another applicant (404)", async () => {
      const mallory = await signInAs(t, "mallory@example.org");
      const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
      for (const url of [`/requests/${id}`, `/requests/${id}/agreements/${agreement.id}`, `/requests/${id}/revise`]) {
        const response = await mallory.get(url);
        assert.equal(response.statusCode, 404, url);
        assert.doesNotMatch(response.body, new RegExp(key.fingerprint.slice(0, 8)));
      }
      const withdraw = await mallory.postForm(`/requests/${id}/withdraw`, { version: "1" }, "/requests");
      assert.equal(withdraw.statusCode, 404);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "submitted");
      assert.doesNotMatch((await mallory.get("/requests")).body, new RegExp(id));
    });

    it("sends anonymous visitors to sign in", async () => {
      const response = await t.app.inject({ method: "GET", url: `/requests/${id}` });
      assert.equal(response.statusCode, 303);
      assert.equal(response.headers.location, `/sign-in?next=${encodeURIComponent(`/requests/${id}`)}`);
    });

    it("refuses a withdrawal from a stale page with 409", async () => {
      const response = await dev.postForm(`/requests/${id}/withdraw`, { version: "7" }, `/requests/${id}`);
      assert.equal(response.statusCode, 409);
      assert.match(response.body, /changed after you loaded the page/);
    });

    it("lets the applicant answer a request for changes with a new agreement, keeping the old one", async () => {
      await t.app.db.$transaction((tx) =>
        applyTransition(tx, { requestId: id, event: "request_changes", actor: { type: "staff", id: "staff-1", ip: null }, now: t.clock.now, data: { reason: "Please sign page 2." } }),
      );
      const page = await dev.get(`/requests/${id}`);
      assert.match(page.body, /Staff asked for changes/);
      assert.match(page.body, /Please sign page 2./);
      assert.match(page.body, /<span class="tracker-detail">Changes requested<\/span>/);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const revised = Buffer.concat([PDF, Buffer.from("% page 2 signed\n%%EOF\n")]);
      const parts = details({ version }, { agreement: revised, signature: Buffer.from(await key.sign(revised)) });
      const response = await dev.postMultipart(`/requests/${id}/revise`, parts, `/requests/${id}/revise`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 1500));
      const detail = await dev.get(`/requests/${id}`);
      assert.match(detail.body, /In review/);
      assert.match(detail.body, /Earlier versions/);
      assert.equal(await t.app.db.agreement.count({ where: { requestId: id } }), 2);
      const received = await t.app.db.outboxEmail.findMany({ where: { template: "revision-received" } });
      assert.equal(received.length, 1, "one email for one revision");
      assert.equal(received[0]?.recipient, "dev@example.org");
      assert.ok(received[0]?.text.includes(`/requests/${id}`));
      assert.match(received[0]?.html ?? "", /<title>We received your revised certification request<\/title>/);
    });

    it("withdraws, then refuses a second withdrawal with 409", async () => {
      const page = await dev.get(`/requests/${id}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const first = await dev.postForm(`/requests/${id}/withdraw`, { version }, `/requests/${id}`);
      assert.equal(first.statusCode, 303);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "withdrawn");
      const second = await dev.postForm(`/requests/${id}/withdraw`, { version: String(Number(version) + 1) }, "/requests");
      assert.equal(second.statusCode, 409);
      assert.match(second.body, /withdrawn, so it can no longer be withdrawn/);
    });
  });
});

describe("secret keys in the log", () => {
  it("never writes a refused secret key to the log, even at trace level", async () => {
    const t = await createTestApp({ LOG_LEVEL: "trace" });
    try {
      const key = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
      const dev = await signInAs(t, "dev@example.org");
      const response = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.privateArmored }], "/requests/new");
      assert.equal(response.statusCode, 400);
      assert.ok(t.logs.some((line) => line.includes("/requests/new")), "the app logged the request");
      const body = key.privateArmored.split("\n").filter((line) => line.length > 40);
      for (const line of t.logs) {
        assert.doesNotMatch(line, /PRIVATE KEY BLOCK/);
        for (const chunk of body) assert.ok(!line.includes(chunk.slice(0, 32)), "a line of the secret key reached the log");
      }
    } finally {
      await t.close();
    }
  });
});
