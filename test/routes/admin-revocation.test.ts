import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeRevocation, userIdBytes } from "../../src/core/transfer/certification.ts";
import { applySignedRevocation } from "../../src/services/revocations.ts";
import * as openpgp from "openpgp";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, unescapeColonField, withGpgHome } from "../helpers/gpg.ts";
import type { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

describe("revoking a certification", () => {
  let t: TestApp;
  let alice: Browser;
  let bob: Browser;
  let carol: Browser;
  let sam: Browser;
  let ada: Browser;

  before(async () => {
    t = await createTestApp();
    for (const [email, roles] of [
      ["alice@keysign.example", ["reviewer"]],
      ["bob@keysign.example", ["reviewer", "admin"]],
      ["carol@keysign.example", ["reviewer"]],
      ["sam@keysign.example", ["signing_officer"]],
      ["ada@keysign.example", ["admin"]],
    ] as const) {
      await createStaff(t, { email, roles: [...roles] });
    }
    alice = await signInStaff(t, "alice@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
    carol = await signInStaff(t, "carol@keysign.example");
    sam = await signInStaff(t, "sam@keysign.example");
    ada = await signInStaff(t, "ada@keysign.example");
  });
  after(async () => t.close());

  async function setQuorum(approvals: number) {
    await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: String(approvals) }, update: { value: String(approvals) } });
  }

  async function certified(address: string, options: { sealed?: boolean } = {}) {
    const submitted = await submitRequest(t, address);
    return { ...submitted, certified: await certifyRequest(t, submitted.id, options) };
  }

  /** The request's current version, as a freshly loaded page would carry it. */
  async function currentVersion(id: string): Promise<string> {
    return String((await t.app.db.request.findUniqueOrThrow({ where: { id } })).version);
  }

  async function propose(browser: Browser, id: string, fields: Record<string, string>, version?: string) {
    return browser.postForm(`/admin/requests/${id}/revocations`, { version: version ?? (await currentVersion(id)), ...fields }, `/admin/requests/${id}`);
  }

  async function openRevocationId(id: string): Promise<string> {
    const row = await t.app.db.revocation.findFirstOrThrow({ where: { requestId: id }, orderBy: { createdAt: "desc" } });
    return row.id;
  }

  async function approve(browser: Browser, id: string, revocationId?: string) {
    const page = await browser.get(`/admin/requests/${id}`);
    const target = revocationId ?? (await openRevocationId(id));
    // Staff without the reviewer role get no form; their forged post carries the current version.
    return browser.postForm(`/admin/requests/${id}/revocations/${target}/approve`, { version: versionOf(page.body) || (await currentVersion(id)) }, `/admin/requests/${id}`);
  }

  /** Everything a revocation attempt could leave behind for this request. */
  async function traces(id: string) {
    return {
      revocations: await t.app.db.revocation.count({ where: { requestId: id } }),
      approvals: await t.app.db.revocationApproval.count({ where: { revocation: { requestId: id } } }),
      emails: await t.app.db.outboxEmail.count(),
      audit: await t.app.db.auditEvent.count({ where: { requestId: id } }),
      request: await t.app.db.request.findUniqueOrThrow({ where: { id }, select: { state: true, version: true } }),
      revoked: await t.app.db.certification.count({ where: { requestId: id, revokedAt: { not: null } } }),
    };
  }

  async function events(id: string, action: string) {
    return t.app.db.auditEvent.count({ where: { requestId: id, action } });
  }

  /** GnuPG's view of the downloaded key with the master key trusted ultimately: the user ID's validity and the master's signatures on it. */
  async function gpgView(keyFile: string, certifiedRequest: CertifiedRequest) {
    const master = certifiedRequest.master;
    return withGpgHome(async (gpg) => {
      const at = t.clock.now;
      await gpg.ok(["--import"], { input: master.toPublic().armor(), at });
      await gpg.ok(["--import-ownertrust"], { input: `${master.getFingerprint().toUpperCase()}:6:\n`, at });
      await gpg.ok(["--import"], { input: keyFile, at });
      await gpg.ok(["--check-trustdb"], { at });
      const records = colonRecords(await gpg.ok(["--with-colons", "--fixed-list-mode", "--check-sigs", `0x${certifiedRequest.fingerprint}`], { at }));
      const masterKeyId = master.getKeyID().toHex().toUpperCase();
      const uid = records.find((r) => r[0] === "uid");
      return {
        userId: unescapeColonField(uid?.[9] ?? ""),
        validity: uid?.[1] ?? "",
        byMaster: records.filter((r) => (r[0] === "sig" || r[0] === "rev") && r[4] === masterKeyId).map((r) => `${r[0]}:${r[1]}:${(r[10] ?? "").slice(0, 3)}`),
      };
    });
  }

  it("with a quorum of two: the first approval keeps it certified, the second publishes the sealed revocation, and GnuPG sees it", async () => {
    await setQuorum(2);
    const { id, applicant, certified: cert } = await certified("revoke-me@example.org");
    const before = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(before.statusCode, 200);
    const trusted = await gpgView(before.body, cert);
    assert.equal(trusted.validity, "f", "the master's certification gives full validity");
    assert.deepEqual(trusted.byMaster, ["sig:!:10x"]);

    const proposed = await propose(alice, id, { reasonCode: "malicious_module", reasonText: "Module <x> phoned home" });
    assert.equal(proposed.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "certified");
    const page = await bob.get(`/admin/requests/${id}`);
    assert.match(page.body, /Revocation: Waiting for approvals/);
    assert.match(page.body, /1 of 2 required/);
    assert.match(page.body, /Module &lt;x&gt; phoned home/);
    const twice = await approve(alice, id);
    assert.equal(twice.statusCode, 409);
    assert.match(twice.body, /already approved this revocation/);
    assert.equal(await t.app.db.outboxEmail.count({ where: { template: "request-revoked" } }), 0);

    const second = await approve(bob, id);
    assert.equal(second.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
    const revocation = await t.app.db.revocation.findFirstOrThrow({ where: { requestId: id } });
    assert.equal(revocation.state, "applied");
    assert.deepEqual(revocation.appliedAt, t.clock.now);
    const [certification] = await t.app.db.certification.findMany({ where: { requestId: id } });
    assert.deepEqual(certification?.revocation, certification?.sealedRevocation);
    assert.deepEqual(certification?.revokedAt, t.clock.now);
    assert.equal(await events(id, "revocation.propose"), 1);
    assert.equal(await events(id, "revocation.approve"), 1);
    const revoke = await t.app.db.auditEvent.findFirstOrThrow({ where: { requestId: id, action: "request.revoke" } });
    assert.equal(revoke.actorId, (await t.app.db.staff.findUniqueOrThrow({ where: { email: "bob@keysign.example" } })).id);
    assert.deepEqual(JSON.parse(revoke.data), {
      revocationId: revocation.id,
      reasonCode: "malicious_module",
      reason: "Malicious module: Module <x> phoned home",
      source: "sealed",
      userIds: ["Dev <revoke-me@example.org>"],
    });
    const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "request-revoked" } });
    assert.equal(mail.recipient, "revoke-me@example.org");
    assert.equal(mail.subject, "The certification of your key was revoked");
    assert.match(mail.text, /Reason: Malicious module/);
    assert.match(mail.text, /Module <x> phoned home/);
    assert.match(mail.html, /Module &lt;x&gt; phoned home/);

    const mine = await applicant.get(`/requests/${id}`);
    assert.match(mine.body, /The certification of this key was revoked on 2026-11-24 12:00 UTC\. Reason: Malicious module: Module &lt;x&gt; phoned home/);
    const after = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(after.statusCode, 200);
    const revoked = await gpgView(after.body, cert);
    assert.equal(revoked.userId, "Dev <revoke-me@example.org>");
    assert.notEqual(revoked.validity, "f", "no longer fully valid");
    assert.ok(revoked.byMaster.includes("rev:!:30x"), revoked.byMaster.join(","));
  });

  it("with a quorum of one: the proposal alone revokes", async () => {
    await setQuorum(1);
    try {
      const { id } = await certified("quorum-one@example.org");
      const response = await propose(carol, id, { reasonCode: "key_compromised", reasonText: "" });
      assert.equal(response.statusCode, 303);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
      assert.equal((await t.app.db.revocation.findFirstOrThrow({ where: { requestId: id } })).state, "applied");
      const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "request-revoked", recipient: "quorum-one@example.org" } });
      assert.match(mail.text, /Reason: Key compromised/);
      // Nothing further can be proposed for a revoked request.
      const again = await propose(alice, id, { reasonCode: "other", reasonText: "again" });
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /This request is revoked, not certified/);
    } finally {
      await setQuorum(2);
    }
  });

  it("without sealed revocations: queued for the signing ceremony, still certified, and applied when the batch brings the revocation", async () => {
    await setQuorum(1);
    try {
      const { id, certified: cert } = await certified("no-seal@example.org", { sealed: false });
      const response = await propose(alice, id, { reasonCode: "unanswered_vulnerability", reasonText: "CVE ignored for 90 days" });
      assert.equal(response.statusCode, 303);
      const revocation = await t.app.db.revocation.findFirstOrThrow({ where: { requestId: id } });
      assert.equal(revocation.state, "queued");
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "certified");
      assert.equal(await t.app.db.outboxEmail.count({ where: { template: "request-revoked", recipient: "no-seal@example.org" } }), 0);
      assert.equal(await events(id, "revocation.queue"), 1);
      const page = await alice.get(`/admin/requests/${id}`);
      assert.match(page.body, /Revocation waiting for the signing ceremony/);
      assert.doesNotMatch(page.body, /Revoke certification<\/button>/);
      const another = await propose(bob, id, { reasonCode: "key_compromised", reasonText: "" });
      assert.equal(another.statusCode, 409);
      assert.match(another.body, /A revocation of this request is already open/);

      // The import hands over the revocations the master key signed in the batch.
      const keyPacket = (await openpgp.readKey({ binaryKey: cert.canonicalKey })).keyPacket as openpgp.PublicKeyPacket;
      const userId = "Dev <no-seal@example.org>";
      const packet = await makeRevocation(cert.master, { key: keyPacket, userId: userIdBytes(userId) }, "CVE ignored", t.clock.now);
      const staff = await t.app.db.staff.findUniqueOrThrow({ where: { email: "sam@keysign.example" } });
      const actor = { type: "staff" as const, id: staff.id, ip: "127.0.0.1" };
      const mismatch = { revocationId: revocation.id, revocations: [{ userId: "Dev <other@example.org>", revocation: packet }], actor, config: t.config, now: t.clock.now };
      await assert.rejects(t.app.db.$transaction((tx) => applySignedRevocation(tx, mismatch)), /do not match the request's certifications/);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "certified");

      await t.app.db.$transaction((tx) => applySignedRevocation(tx, { ...mismatch, revocations: [{ userId, revocation: packet }] }));
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
      assert.equal((await t.app.db.revocation.findUniqueOrThrow({ where: { id: revocation.id } })).state, "applied");
      const certification = await t.app.db.certification.findFirstOrThrow({ where: { requestId: id } });
      assert.deepEqual(certification.revocation, new Uint8Array(packet));
      const revoke = await t.app.db.auditEvent.findFirstOrThrow({ where: { requestId: id, action: "request.revoke" } });
      assert.equal(revoke.actorId, staff.id);
      assert.equal(JSON.parse(revoke.data).source, "batch");
      assert.equal(await t.app.db.outboxEmail.count({ where: { template: "request-revoked", recipient: "no-seal@example.org" } }), 1);
      // Applying it twice changes nothing.
      await assert.rejects(t.app.db.$transaction((tx) => applySignedRevocation(tx, { ...mismatch, revocations: [{ userId, revocation: packet }] })), /cannot be applied now/);
    } finally {
      await setQuorum(2);
    }
  });

  it("turns two quorum-reaching approvals at the same moment into exactly one revocation", async () => {
    const { id } = await certified("race@example.org");
    await propose(alice, id, { reasonCode: "commercial_use", reasonText: "" });
    const revocationId = await openRevocationId(id);
    const version = versionOf((await bob.get(`/admin/requests/${id}`)).body);
    const racers = [bob, carol];
    const csrf = await Promise.all(racers.map((r) => r.csrfFrom(`/admin/requests/${id}`)));
    const responses = await Promise.all(
      racers.map((browser, i) =>
        t.app.inject({
          method: "POST",
          url: `/admin/requests/${id}/revocations/${revocationId}/approve`,
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: `ks_session=${browser.cookie("ks_session")}; ks_csrf=${browser.cookie("ks_csrf")}` },
          payload: new URLSearchParams({ _csrf: csrf[i] ?? "", version }).toString(),
        }),
      ),
    );
    assert.deepEqual(responses.map((r) => r.statusCode).sort(), [303, 409]);
    assert.match(responses.find((r) => r.statusCode === 409)?.body ?? "", /changed after you loaded the page|no longer waiting for approvals/);
    assert.equal(await events(id, "request.revoke"), 1);
    assert.equal(await events(id, "revocation.approve"), 1);
    assert.equal(await t.app.db.revocationApproval.count({ where: { revocationId } }), 2);
    assert.equal(await t.app.db.outboxEmail.count({ where: { template: "request-revoked", recipient: "race@example.org" } }), 1);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
  });

  it("refuses a second proposal while one is open; a withdrawn one makes room, and cannot be approved", async () => {
    const { id } = await certified("one-at-a-time@example.org");
    assert.equal((await propose(alice, id, { reasonCode: "key_compromised", reasonText: "" })).statusCode, 303);
    const first = await openRevocationId(id);
    const before = await traces(id);
    const second = await propose(bob, id, { reasonCode: "other", reasonText: "Something else" });
    assert.equal(second.statusCode, 409);
    assert.match(second.body, /A revocation of this request is already open. Approve or withdraw it/);
    assert.deepEqual(await traces(id), before);

    const page = await bob.get(`/admin/requests/${id}`);
    const withdrawn = await bob.postForm(`/admin/requests/${id}/revocations/${first}/withdraw`, { version: versionOf(page.body) }, `/admin/requests/${id}`);
    assert.equal(withdrawn.statusCode, 303);
    assert.equal((await t.app.db.revocation.findUniqueOrThrow({ where: { id: first } })).state, "withdrawn");
    assert.equal(await events(id, "revocation.withdraw"), 1);
    const late = await approve(carol, id, first);
    assert.equal(late.statusCode, 409);
    assert.match(late.body, /no longer waiting for approvals \(it is withdrawn\)/);
    assert.equal((await propose(bob, id, { reasonCode: "other", reasonText: "Something else" })).statusCode, 303);
    assert.equal(await t.app.db.revocation.count({ where: { requestId: id, state: "proposed" } }), 1);
  });

  it("refuses bad input with the reason and leaves nothing behind", async () => {
    const { id } = await certified("bad-input@example.org");
    const { id: submittedId } = await submitRequest(t, "not-certified@example.org");
    const page = await alice.get(`/admin/requests/${id}`);
    const version = versionOf(page.body);
    const cases: Array<{ name: string; browser: Browser; target?: string; fields: Record<string, string>; status: number; message: RegExp }> = [
      { name: "other without text", browser: alice, fields: { version, reasonCode: "other", reasonText: "   " }, status: 400, message: /required when the reason is &quot;Other&quot;/ },
      { name: "unknown code", browser: alice, fields: { version, reasonCode: "bored", reasonText: "x" }, status: 400, message: /Choose the reason for the revocation from the list/ },
      { name: "no code", browser: alice, fields: { version, reasonText: "x" }, status: 400, message: /Choose the reason for the revocation from the list/ },
      { name: "text too long", browser: alice, fields: { version, reasonCode: "other", reasonText: "a".repeat(501) }, status: 400, message: /Keep the explanation under 500 characters \(it has 501\)/ },
      { name: "stale page", browser: alice, fields: { version: String(Number(version) - 1), reasonCode: "key_compromised", reasonText: "" }, status: 409, message: /changed after you loaded the page/ },
      { name: "missing version", browser: alice, fields: { reasonCode: "key_compromised", reasonText: "" }, status: 400, message: /Some fields are missing or malformed/ },
      { name: "not certified", browser: alice, target: submittedId, fields: { version: "1", reasonCode: "key_compromised", reasonText: "" }, status: 409, message: /This request is submitted, not certified/ },
      { name: "signing officer", browser: sam, fields: { version, reasonCode: "key_compromised", reasonText: "" }, status: 403, message: /needs the Reviewer role/ },
      { name: "admin without the reviewer role", browser: ada, fields: { version, reasonCode: "key_compromised", reasonText: "" }, status: 403, message: /needs the Reviewer role/ },
    ];
    for (const c of cases) {
      const target = c.target ?? id;
      const before = await traces(target);
      const response = await c.browser.postForm(`/admin/requests/${target}/revocations`, c.fields, "/admin");
      assert.equal(response.statusCode, c.status, c.name);
      assert.match(response.body, c.message, c.name);
      assert.doesNotMatch(response.body, /at [A-Za-z]+\.[A-Za-z]+ \(|node_modules/, c.name);
      assert.deepEqual(await traces(target), before, c.name);
    }
    // The form comes back with what was typed.
    const retyped = await alice.postForm(`/admin/requests/${id}/revocations`, { version, reasonCode: "other", reasonText: "b".repeat(501) }, "/admin");
    assert.match(retyped.body, /<option value="other" selected>Other<\/option>/);
    assert.match(retyped.body, new RegExp(`>${"b".repeat(501)}</textarea>`));
    // Approving as the wrong role, or a revocation that does not exist, changes nothing either.
    assert.equal((await propose(alice, id, { reasonCode: "key_compromised", reasonText: "" })).statusCode, 303);
    const before = await traces(id);
    const officer = await approve(sam, id);
    assert.equal(officer.statusCode, 403);
    const missing = await approve(bob, id, "00000000-0000-4000-8000-000000000000");
    assert.equal(missing.statusCode, 404);
    assert.match(missing.body, /This revocation does not exist/);
    assert.deepEqual(await traces(id), before);
  });

  it("shows the certified key to any staff member, and the revoke form only on certified requests", async () => {
    const { id, certified: cert } = await certified("staff-download@example.org");
    const download = await sam.get(`/admin/requests/${id}/certified-key`);
    assert.equal(download.statusCode, 200);
    assert.equal(download.headers["content-type"], "application/pgp-keys");
    assert.equal(download.headers["content-disposition"], `attachment; filename="${cert.fingerprint}.asc"`);
    assert.equal(download.headers["x-content-type-options"], "nosniff");
    const page = await alice.get(`/admin/requests/${id}`);
    assert.match(page.body, new RegExp(`href="/admin/requests/${id}/certified-key"`));
    assert.match(page.body, /Revoke certification<\/button>/);
    assert.match(page.body, /<option value="commercial_use">Commercial use without agreement<\/option>/);
    const { id: submittedId } = await submitRequest(t, "staff-not-yet@example.org");
    assert.equal((await sam.get(`/admin/requests/${submittedId}/certified-key`)).statusCode, 404);
    assert.doesNotMatch((await alice.get(`/admin/requests/${submittedId}`)).body, /Revoke certification|certified-key/);
  });

  it("offers the decision and revocation forms to reviewers only: staff without the role see the state, not buttons the routes would refuse", async () => {
    await setQuorum(2);
    const inReview = await submitRequest(t, "waiting-roles@example.org");
    const { id } = await certified("roles@example.org");
    assert.equal((await propose(alice, id, { reasonCode: "other", reasonText: "testing the forms" })).statusCode, 303);
    const forms = (html: string) => [...html.matchAll(/<form method="post" action="([^"]+)"/g)].map((match) => match[1]!.replace(/[0-9a-f-]{36}/g, "ID"));
    for (const browser of [sam, ada]) {
      assert.deepEqual(forms((await browser.get(`/admin/requests/${id}`)).body), ["/admin/logout", "/admin/requests/ID/notes"]);
      assert.deepEqual(forms((await browser.get(`/admin/requests/${inReview.id}`)).body), ["/admin/logout", "/admin/requests/ID/notes"]);
    }
    assert.deepEqual(forms((await carol.get(`/admin/requests/${id}`)).body), ["/admin/logout", "/admin/requests/ID/revocations/ID/approve", "/admin/requests/ID/revocations/ID/withdraw", "/admin/requests/ID/notes"]);
    assert.deepEqual(forms((await carol.get(`/admin/requests/${inReview.id}`)).body).filter((action) => /approve|reject|changes/.test(action)).length, 3);
  });
});
