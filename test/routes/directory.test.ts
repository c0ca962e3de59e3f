/**
 * The owner's consent: a key is found by fingerprint and key ID always, but listed in the public
 * directory, found by address and shown with user IDs in the HKP index only for the user IDs its
 * owner chose to publish, on the request form or later on the request's page.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, soleReviewer } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF, submissionParts, submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

describe("the public directory and the owner's consent", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
  });
  after(async () => t.close());

  const visitor = () => new Browser(t.app);
  const byEmail = (address: string) => visitor().get(`/pks/lookup?op=get&search=${encodeURIComponent(address)}`);

  it("finds an unlisted certified key by fingerprint only: not in the directory, not by address, no user ID in the index", async () => {
    const { id } = await submitRequest(t, "quiet@example.org", "Quinn Quiet");
    const { fingerprint } = await certifyRequest(t, id);
    assert.equal((await visitor().get(`/vks/v1/by-fingerprint/${fingerprint}`)).statusCode, 200);
    const directory = await visitor().get("/keys");
    assert.equal(directory.statusCode, 200);
    assert.doesNotMatch(directory.body, /Quinn|quiet@example\.org/);
    assert.doesNotMatch((await visitor().get("/keys?q=quinn")).body, /quiet@example\.org/);
    const full = await visitor().get(`/keys?q=${fingerprint.toLowerCase()}`);
    assert.equal(full.statusCode, 303, "a full fingerprint leads to the key's own page, which names no owner");
    assert.equal(full.headers.location, `/keys/${fingerprint}`);
    assert.equal((await byEmail("quiet@example.org")).statusCode, 404);
    assert.equal((await visitor().get("/vks/v1/by-email/quiet%40example.org")).statusCode, 404);
    const index = await visitor().get(`/pks/lookup?op=index&options=mr&search=0x${fingerprint}`);
    assert.equal(index.body, index.body.split("\n").filter((line) => !line.startsWith("uid:")).join("\n"), "no uid line");
    assert.match(index.body, new RegExp(`^pub:${fingerprint}:`, "m"));
  });

  it("lists, finds by address and indexes a user ID once its owner publishes it from the request page, and stops when they take it back", async () => {
    const { id, applicant } = await submitRequest(t, "open@example.org", "Olive Open: Café");
    const { fingerprint } = await certifyRequest(t, id);
    const page = await applicant.get(`/requests/${id}`);
    assert.match(page.body, /<input type="checkbox" name="publishUserIds" value="Olive Open: Café &lt;open@example.org&gt;" >/, "offered, not ticked");
    const chosen = await applicant.postForm(`/requests/${id}/publish`, { publishUserIds: "Olive Open: Café <open@example.org>" }, `/requests/${id}`);
    assert.equal(chosen.statusCode, 303);
    assert.match((await applicant.get(`/requests/${id}`)).body, /value="Olive Open: Café &lt;open@example.org&gt;" checked>/);
    const event = await t.app.db.auditEvent.findFirst({ where: { requestId: id, action: "request.publish_choice" } });
    assert.ok(event, "the choice is an audit event");

    const directory = (await visitor().get("/keys")).body;
    assert.match(directory, /Olive Open: Café/);
    assert.match(directory, /open@example\.org/);
    assert.match(directory, new RegExp(`href="/keys/${fingerprint}"`));
    for (const query of ["olive", "OPEN@example", "café olive", fingerprint.slice(-16)]) {
      assert.match((await visitor().get(`/keys?q=${encodeURIComponent(query)}`)).body, /open@example\.org/, query);
    }
    assert.match((await visitor().get("/keys?q=nobody")).body, /No listed developer matches “nobody”/);

    const got = await byEmail("Open@Example.org");
    assert.equal(got.statusCode, 200);
    assert.equal(got.headers["content-type"], "application/pgp-keys");
    assert.equal((await visitor().get("/vks/v1/by-email/open%40example.org")).statusCode, 200);
    const index = await visitor().get(`/pks/lookup?op=index&options=mr&search=open%40example.org`);
    assert.match(index.body, /^info:1:1\n/);
    assert.match(index.body, /^uid:Olive Open%3A Caf%C3%A9 <open@example.org>:::$/m, "percent-escaped as the colon format needs");

    assert.equal((await applicant.postForm(`/requests/${id}/publish`, {}, `/requests/${id}`)).statusCode, 303);
    assert.doesNotMatch((await visitor().get("/keys")).body, /open@example\.org/);
    assert.equal((await byEmail("open@example.org")).statusCode, 404);
  });

  it("refuses to publish a user ID that is not certified, and lets nobody else choose", async () => {
    const { id, applicant } = await submitRequest(t, "strict@example.org", "Sam Strict");
    await certifyRequest(t, id);
    const stray = await applicant.postForm(`/requests/${id}/publish`, { publishUserIds: "Mallory <mallory@example.org>" }, `/requests/${id}`);
    assert.equal(stray.statusCode, 400);
    assert.match(stray.body, /&quot;Mallory &lt;mallory@example.org&gt;&quot; is not chosen for certification, so it cannot be published/);
    const row = await t.app.db.request.findUniqueOrThrow({ where: { id } });
    assert.equal(row.publishedUserIds, "[]");
    assert.equal(await t.app.db.auditEvent.count({ where: { requestId: id, action: "request.publish_choice" } }), 0);

    const other = await signInAs(t, "other@example.org");
    const foreign = await other.postForm(`/requests/${id}/publish`, { publishUserIds: "Sam Strict <strict@example.org>" }, "/requests");
    assert.equal(foreign.statusCode, 404);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).publishedUserIds, "[]");
  });

  it("takes the choice on the request form, off unless ticked, and only for user IDs being certified", async () => {
    const applicant = await signInAs(t, "form@example.org");
    const key = await makeTestKey([{ name: "Fran Form", email: "form@example.org" }]);
    const step = await applicant.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    assert.match(step.body, /<legend>Public directory \(optional\)<\/legend>/);
    assert.match(step.body, /name="publishUserIds" value="Fran Form &lt;form@example.org&gt;" >/, "not ticked by default");

    const parts = await submissionParts(key, "Fran Form <form@example.org>", AGREEMENT_PDF);
    const stray = await applicant.postMultipart("/requests", [...parts, { name: "publishUserIds", value: "Someone <else@example.org>" }], "/requests/new");
    assert.equal(stray.statusCode, 400);
    assert.match(stray.body, /is not chosen for certification, so it cannot be published/);

    const sent = await applicant.postMultipart("/requests", [...(await submissionParts(key, "Fran Form <form@example.org>")), { name: "publishUserIds", value: "Fran Form <form@example.org>" }], "/requests/new");
    assert.equal(sent.statusCode, 303);
    const id = (sent.headers.location ?? "").split("/").pop() ?? "";
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).publishedUserIds, JSON.stringify(["Fran Form <form@example.org>"]));
    // Under review nothing is published, whatever the choice.
    assert.doesNotMatch((await visitor().get("/keys")).body, /form@example\.org/);
    assert.equal((await byEmail("form@example.org")).statusCode, 404);
    await certifyRequest(t, id);
    assert.match((await visitor().get("/keys")).body, /form@example\.org/);
  });

  it("makes the directory once for many visits, and again at once when an owner changes their choice", async () => {
    const { id, applicant } = await submitRequest(t, "memo@example.org", "Mona Memo");
    await certifyRequest(t, id);
    const userId = "Mona Memo <memo@example.org>";
    assert.equal((await applicant.postForm(`/requests/${id}/publish`, { publishUserIds: userId }, `/requests/${id}`)).statusCode, 303);
    assert.match((await visitor().get("/keys?q=mona")).body, /memo@example\.org/);
    // Taken back behind the portal's back (no signal): the directory made a moment ago stands.
    await t.app.db.request.update({ where: { id }, data: { publishedUserIds: "[]" } });
    for (let i = 0; i < 20; i++) assert.match((await visitor().get("/keys")).body, /memo@example\.org/, "a visit reads no consent");
    // Taken back on the request page, as owners do: gone from the next answer.
    assert.equal((await applicant.postForm(`/requests/${id}/publish`, {}, `/requests/${id}`)).statusCode, 303);
    assert.doesNotMatch((await visitor().get("/keys")).body, /memo@example\.org|Mona Memo/);
  });
});
