import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { requestWarnings } from "../../src/core/request-warnings.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import type { Browser } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF, submissionParts, submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const KEY_DATE = new Date("2026-01-01T00:00:00Z");
const NOW = new Date("2026-11-24T12:00:00Z");
const DAY = 86_400;

/** A key that expires `days` after the test clock's now. */
function expiringIn(days: number): number {
  return Math.round((NOW.getTime() - KEY_DATE.getTime()) / 1000) + days * DAY;
}

/** An RSA key, as makeTestKey makes Ed25519 ones: openpgp.js, signing with the primary. */
async function makeRsaKey(bits: number, email: string): Promise<TestKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: "rsa", rsaBits: bits, userIDs: [{ name: "Dev", email }], date: KEY_DATE, format: "armored" });
  const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return {
    publicArmored: publicKey,
    privateArmored: privateKey,
    fingerprint: key.getFingerprint().toUpperCase(),
    sign: async (data) => openpgp.sign({ message: await openpgp.createMessage({ binary: data }), signingKeys: key, detached: true, format: "armored", date: new Date(KEY_DATE.getTime() + 1000) }),
  };
}

/** The list's row for one request (empty when the request is not on the page). */
function rowOf(html: string, id: string): string {
  return html.split("<tr>").find((row) => row.includes(`/admin/requests/${id}"`)) ?? "";
}

function warningsOf(html: string, id: string): string[] {
  const row = rowOf(html, id);
  assert.ok(row, `request ${id} is listed`);
  return [...row.matchAll(/data-warning="([a-z_]+)"/g)].map((m) => m[1] ?? "").sort();
}

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

describe("the staff request list: warnings", () => {
  let t: TestApp;
  let staff: Browser;

  before(async () => {
    t = await createTestApp({}, NOW);
    await soleReviewer(t);
    staff = await signInStaff(t, "rita@keysign.example");
  });
  after(async () => t.close());

  it("tags an RSA key below 3072 bits, and no other key", async () => {
    const rsa = await submitRequest(t, "rsa@example.org", "Dev", await makeRsaKey(2048, "rsa@example.org"));
    const plain = await submitRequest(t, "plain@example.org");
    const page = (await staff.get("/admin/requests?state=")).body;
    assert.deepEqual(warningsOf(page, rsa.id), ["rsa_small"]);
    assert.match(rowOf(page, rsa.id), />RSA 2048<span class="visually-hidden">: The key is RSA 2048: below the 3072 bits recommended.<\/span>/);
    assert.deepEqual(warningsOf(page, plain.id), []);
    assert.match(rowOf(page, plain.id), />None</);
  });

  it("tags a key expiring within 60 days, and not one expiring later", async () => {
    const soon = await submitRequest(t, "soon@example.org", "Dev", await makeTestKey([{ name: "Dev", email: "soon@example.org" }], { expiresInSeconds: expiringIn(45) }));
    const later = await submitRequest(t, "later@example.org", "Dev", await makeTestKey([{ name: "Dev", email: "later@example.org" }], { expiresInSeconds: expiringIn(61) }));
    const page = (await staff.get("/admin/requests?state=")).body;
    assert.deepEqual(warningsOf(page, soon.id), ["key_expiring"]);
    assert.match(rowOf(page, soon.id), />Key expires in 45 days</);
    assert.deepEqual(warningsOf(page, later.id), []);
  });

  it("tags a new request for a key whose earlier certification was revoked, but not the revoked request itself", async () => {
    const first = await submitRequest(t, "again@example.org");
    await certifyRequest(t, first.id);
    const revoked = await revokeAsSoleReviewer(t, first.id, "unanswered_vulnerability");
    assert.equal(revoked.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: first.id } })).state, "revoked");
    const second = await submitRequest(t, "again@example.org", "Dev", first.key);
    const page = (await staff.get("/admin/requests?state=")).body;
    assert.deepEqual(warningsOf(page, second.id), ["revoked_before"]);
    assert.deepEqual(warningsOf(page, first.id), []);
  });

  it("tags both open requests that hold the same key, and neither once one is closed", async () => {
    const held = await submitRequest(t, "held@example.org");
    // The form refuses a key another open request holds; a second one can still exist (made
    // before that rule, or by a race), so the list flags it. Written as intake would write it.
    const twin = await duplicateRequest(t, held.id);
    const page = (await staff.get("/admin/requests?state=")).body;
    assert.deepEqual(warningsOf(page, held.id), ["key_open_elsewhere"]);
    assert.deepEqual(warningsOf(page, twin), ["key_open_elsewhere"]);
    assert.match(rowOf(page, held.id), /1 other open request holds the same key\./);
    await t.app.db.request.update({ where: { id: twin }, data: { state: "withdrawn" } });
    const after = (await staff.get("/admin/requests?state=")).body;
    assert.deepEqual(warningsOf(after, held.id), []);
    assert.deepEqual(warningsOf(after, twin), []);
  });

  it("prints a fingerprint as two unbreakable halves of five groups", async () => {
    const { id, key } = await submitRequest(t, "groups@example.org");
    const groups = key.fingerprint.match(/.{4}/g) ?? [];
    const row = rowOf((await staff.get("/admin/requests?state=")).body, id);
    assert.ok(row.includes(`class="fpr"><span>${groups.slice(0, 5).join(" ")}</span> <span>${groups.slice(5).join(" ")}</span></a>`));
  });
});

/** A second request of another applicant holding the same key revision (key row copied as stored). */
async function duplicateRequest(t: TestApp, requestId: string): Promise<string> {
  const db = t.app.db;
  const source = await db.request.findUniqueOrThrow({ where: { id: requestId }, include: { keys: true } });
  const applicant = await db.applicant.create({ data: { id: randomUUID(), email: `twin-${randomUUID()}@example.org` } });
  const id = randomUUID();
  const { licence, projectUrls, attestOpenSource, attestNotCommercial, attestAgreement, state } = source;
  await db.request.create({ data: { id, applicantId: applicant.id, state, licence, projectUrls, attestOpenSource, attestNotCommercial, attestAgreement } });
  for (const key of source.keys) {
    const { revision, fingerprint, canonicalKey, canonicalSha256, algorithm, keyCreatedAt, keyExpiresAt, facts, certifyUserIds } = key;
    await db.requestKey.create({ data: { id: randomUUID(), requestId: id, revision, fingerprint, canonicalKey, canonicalSha256, algorithm, keyCreatedAt, keyExpiresAt, facts, certifyUserIds } });
  }
  return id;
}

describe("the staff request list: needs my approval", () => {
  let t: TestApp;
  let alice: Browser;
  let bob: Browser;
  let officer: Browser;

  before(async () => {
    t = await createTestApp({}, NOW);
    await createStaff(t, { email: "alice@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "bob@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "sam@keysign.example", roles: ["signing_officer"] });
    alice = await signInStaff(t, "alice@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
    officer = await signInStaff(t, "sam@keysign.example");
  });
  after(async () => t.close());

  async function decide(browser: Browser, id: string, action: string, fields: Record<string, string> = {}) {
    const page = `/admin/requests/${id}`;
    const response = await browser.postForm(`${page}/${action}`, { version: versionOf((await browser.get(page)).body), ...fields }, page);
    assert.equal(response.statusCode, 303, `${action} answered ${response.statusCode}`);
  }

  it("shows each reviewer the waiting requests they have not approved in their current revision, by default", async () => {
    const fresh = await submitRequest(t, "fresh@example.org");
    const half = await submitRequest(t, "half@example.org");
    await decide(alice, half.id, "approve");
    const own = await submitRequest(t, "alice@keysign.example", "Alice");
    const revised = await submitRequest(t, "revised@example.org");
    await decide(alice, revised.id, "approve");
    await decide(bob, revised.id, "request-changes", { reason: "Please sign page 2." });
    const mine = await revised.applicant.get(`/requests/${revised.id}`);
    const parts = [{ name: "version", value: versionOf(mine.body) }, ...(await submissionParts(revised.key, "Dev <revised@example.org>", Buffer.concat([AGREEMENT_PDF, Buffer.from("% signed\n%%EOF\n")])))];
    assert.equal((await revised.applicant.postMultipart(`/requests/${revised.id}/revise`, parts, `/requests/${revised.id}/revise`)).statusCode, 303);
    const done = await submitRequest(t, "done@example.org");
    await decide(alice, done.id, "approve");
    await decide(bob, done.id, "approve");
    const rejected = await submitRequest(t, "rejected@example.org");
    await decide(bob, rejected.id, "reject", { reason: "Not a module signer." });

    const listed = (html: string) => [fresh, half, own, revised, done, rejected].filter((r) => rowOf(html, r.id) !== "").map((r) => r.key.fingerprint);
    const expect = (...requests: Array<{ key: TestKey }>) => requests.map((r) => r.key.fingerprint);
    const forAlice = (await alice.get("/admin/requests")).body;
    assert.match(forAlice, /<h1>Requests that need my approval<\/h1>/);
    assert.match(forAlice, /id="show-mine" name="state" value="mine" checked/);
    // Alice approved "half"; "own" is hers; "revised" was approved by her in its first revision only.
    assert.deepEqual(listed(forAlice), expect(fresh, revised));
    const forBob = (await bob.get("/admin/requests?state=mine")).body;
    assert.deepEqual(listed(forBob), expect(fresh, half, own, revised));
    assert.match(rowOf(forBob, half.id), /<span class="approvals">1 of 2<\/span>/);
    assert.match(rowOf(forBob, revised.id), /<span class="approvals">0 of 2<\/span>/);
    assert.match(forBob, /Needs my approval <span class="choice-count">\(4\)<\/span>/);

    // The dashboard's "Waiting for you" lists the same requests.
    const dashboard = (await alice.get("/admin")).body;
    assert.deepEqual(listed(dashboard.slice(dashboard.indexOf("Waiting for you"))), expect(fresh, revised));

    const everything = (await alice.get("/admin/requests?state=")).body;
    assert.deepEqual(listed(everything), expect(fresh, half, own, revised, done, rejected));
    assert.match(rowOf(everything, done.id), /<span class="muted">–<\/span>/, "no approval count once the quorum is reached");
  });

  it("says why nothing needs my approval, and starts a signing officer on every request", async () => {
    const t2 = await createTestApp({}, NOW);
    try {
      await createStaff(t2, { email: "solo@keysign.example", roles: ["reviewer"] });
      const solo = await signInStaff(t2, "solo@keysign.example");
      const empty = (await solo.get("/admin/requests")).body;
      assert.match(empty, /Nothing needs your approval: every request waiting for review is your own or has your approval\./);
    } finally {
      await t2.close();
    }
    const page = (await officer.get("/admin/requests")).body;
    assert.match(page, /<h1>Requests<\/h1>/);
    assert.doesNotMatch(page, /Needs my approval/);
    assert.match(page, /id="show-all" name="state" value="" checked/);
    assert.equal((await officer.get("/admin/requests?state=mine")).statusCode, 200);
  });
});

describe("request warnings (rules)", () => {
  const facts = { rsaBits: null, keyExpiresAt: null, revokedBefore: false, otherOpenRequests: 0 };
  const codes = (input: Partial<typeof facts> | { rsaBits: number } | { keyExpiresAt: Date }) => requestWarnings({ ...facts, ...input }, NOW).map((w) => w.code);

  it("draws each line exactly at its limit", () => {
    assert.deepEqual(codes({ rsaBits: 3071 }), ["rsa_small"]);
    assert.deepEqual(codes({ rsaBits: 3072 }), []);
    assert.deepEqual(codes({ keyExpiresAt: new Date(NOW.getTime() + 60 * DAY * 1000) }), ["key_expiring"]);
    assert.deepEqual(codes({ keyExpiresAt: new Date(NOW.getTime() + 60 * DAY * 1000 + 1) }), []);
    assert.deepEqual(codes({ keyExpiresAt: NOW }), ["key_expired"]);
    assert.deepEqual(codes({}), []);
  });
});
