/**
 * Key replacement through the real pages: "Replace this key" opens the normal form linked to
 * the old request, reviewers see both keys, and once the new key is certified the owner either
 * revokes the old certification at once (its sealed revocations, reason "superseded") or
 * leaves it to expire, changeably until revoked.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, REVIEWER, soleReviewer } from "../helpers/certified.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submissionParts, submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { signInStaff } from "../helpers/staff.ts";

const ADDRESS = "swap@example.org";
const USER_ID = `Dev <${ADDRESS}>`;

async function withApp(run: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await createTestApp();
  try {
    await run(t);
  } finally {
    await t.close();
  }
}

/** A certified request, and a replacement for a new key made through "Replace this key" and certified too. */
async function replaced(t: TestApp) {
  const old = await submitRequest(t, ADDRESS, "Dev");
  const certified = await certifyRequest(t, old.id);
  const owner = await signInAs(t, ADDRESS);
  assert.match((await owner.get(`/requests/${old.id}`)).body, new RegExp(`href="/requests/${old.id}/replace"`));
  const newKey = await makeTestKey([{ name: "Dev", email: ADDRESS }]);
  const response = await owner.postMultipart("/requests", await submissionParts(newKey, USER_ID), `/requests/${old.id}/replace`);
  assert.equal(response.statusCode, 303, response.body.slice(0, 600));
  const newId = String(response.headers.location).split("/").pop() ?? "";
  return { oldId: old.id, newId, owner, certified };
}

describe("replacing a certified key", () => {
  it("links the new request to the old one; reviewers see both keys; the same key is refused", () =>
    withApp(async (t) => {
      await soleReviewer(t);
      const { oldId, newId, owner } = await replaced(t);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: newId } })).replacesRequestId, oldId);
      const [oldKey, newKey] = await Promise.all([oldId, newId].map((id) => t.app.db.requestKey.findFirstOrThrow({ where: { requestId: id } })));
      const reviewer = await signInStaff(t, REVIEWER);
      const page = await reviewer.get(`/admin/requests/${newId}`);
      assert.match(page.body, new RegExp(`Replaces the key of <a href="/admin/requests/${oldId}">`));
      assert.match(page.body, /<h3>Replaced key<\/h3>/);
      for (const key of [oldKey, newKey]) assert.ok(page.body.includes((key?.fingerprint ?? "").replace(/(.{4})(?!$)/g, "$1 ")), "both fingerprints are shown");
      // Before the new key is certified there is nothing to choose.
      assert.match((await owner.get(`/requests/${newId}`)).body, /Once this key is certified you choose here/);
      const early = await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "revoke" }, `/requests/${newId}`);
      assert.equal(early.statusCode, 409);

      // The old key itself is not a replacement.
      const sameKey = await t.app.db.requestKey.findFirstOrThrow({ where: { requestId: oldId } });
      assert.ok(sameKey);
      const second = await submitRequest(t, "other@example.org");
      await certifyRequest(t, second.id);
      const otherOwner = await signInAs(t, "other@example.org");
      const before = await t.app.db.request.count();
      const refused = await otherOwner.postMultipart("/requests", await submissionParts(second.key, "Dev <other@example.org>"), `/requests/${second.id}/replace`);
      assert.equal(refused.statusCode, 400);
      assert.match(refused.body, /This is the key being replaced/);
      assert.equal(await t.app.db.request.count(), before);
    }));

  it("revokes the old certification at once with its sealed revocations when the owner chooses so; then the choice is final", () =>
    withApp(async (t) => {
      const { oldId, newId, owner, certified } = await replaced(t);
      await certifyRequest(t, newId, { master: certified.master });
      const chosen = await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "revoke" }, `/requests/${newId}`);
      assert.equal(chosen.statusCode, 303);
      const old = await t.app.db.request.findUniqueOrThrow({ where: { id: oldId }, include: { certifications: true } });
      assert.equal(old.state, "revoked");
      assert.equal(old.certifications.length, 1);
      assert.deepEqual(old.certifications[0]?.revocation, old.certifications[0]?.sealedRevocation, "the sealed revocation is what is published");
      assert.ok(old.certifications[0]?.revokedAt);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: newId } })).replacedChoice, "revoke");
      const audit = await t.app.db.auditEvent.findMany({ where: { requestId: { in: [oldId, newId] }, action: { in: ["request.replaced_choice", "request.revoke"] } } });
      assert.deepEqual(audit.map((e) => e.action).sort(), ["request.replaced_choice", "request.revoke"]);
      assert.match(audit.find((e) => e.action === "request.revoke")?.data ?? "", /"reasonCode":"superseded"/);
      assert.equal(await t.app.db.outboxEmail.count({ where: { template: "request-revoked" } }), 1);
      assert.match((await owner.get(`/requests/${oldId}`)).body, new RegExp(`replaced by <a href="/requests/${newId}">a new key</a>, and on your request its certification was revoked as superseded`));
      const published = await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&options=mr&search=0x${certified.fingerprint}` });
      assert.equal(published.statusCode, 200);

      const change = await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "expire" }, `/requests/${newId}`);
      assert.equal(change.statusCode, 409);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: newId } })).replacedChoice, "revoke");
    }));

  it("leaves the old certification to expire when the owner chooses so, recorded and changeable until revoked", () =>
    withApp(async (t) => {
      const { oldId, newId, owner, certified } = await replaced(t);
      await certifyRequest(t, newId, { master: certified.master });
      assert.equal((await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "expire" }, `/requests/${newId}`)).statusCode, 303);
      const old = await t.app.db.request.findUniqueOrThrow({ where: { id: oldId }, include: { certifications: true } });
      assert.equal(old.state, "certified");
      assert.equal(old.certifications[0]?.revokedAt, null);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: newId } })).replacedChoice, "expire");
      assert.equal(await t.app.db.auditEvent.count({ where: { requestId: newId, action: "request.replaced_choice" } }), 1);
      assert.match((await owner.get(`/requests/${newId}`)).body, /Your choice: the old certification is left to expire/);
      const bad = await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "later" }, `/requests/${newId}`);
      assert.equal(bad.statusCode, 400);
      // Changed later: revoked after all.
      assert.equal((await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "revoke" }, `/requests/${newId}`)).statusCode, 303);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: oldId } })).state, "revoked");
      const stranger = await signInAs(t, "stranger@example.org");
      assert.equal((await stranger.postForm(`/requests/${newId}/replaced-choice`, { choice: "expire" }, "/requests")).statusCode, 404);
    }));

  it("sends a renewed certification's owner to the renewal: the old request offers no replacement, and revoking it alone is refused", () =>
    withApp(async (t) => {
      const { oldId, newId, owner } = await replaced(t);
      await certifyRequest(t, newId);
      const renewed = await owner.postMultipart(`/requests/${oldId}/renew`, [{ name: "confirm", value: "yes" }], `/requests/${oldId}/renew`);
      assert.equal(renewed.statusCode, 303, renewed.body.slice(0, 500));
      const renewalId = String(renewed.headers.location).split("/").pop() ?? "";
      assert.doesNotMatch((await owner.get(`/requests/${oldId}`)).body, new RegExp(`href="/requests/${oldId}/replace"`));
      const again = await owner.get(`/requests/${oldId}/replace`);
      assert.equal(again.statusCode, 409);
      assert.match(again.body, new RegExp(`renewed on request ${renewalId}`));
      // Revoking the old request alone would leave the same key certified through its renewal.
      const chosen = await owner.postForm(`/requests/${newId}/replaced-choice`, { choice: "revoke" }, `/requests/${newId}`);
      assert.equal(chosen.statusCode, 409, chosen.body.slice(0, 500));
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: oldId } })).state, "certified");
      assert.equal(await t.app.db.certification.count({ where: { requestId: oldId, revokedAt: { not: null } } }), 0);
    }));

  it("keeps the replacement form's tokens under the same cap as every form token", () =>
    withApp(async (t) => {
      const old = await submitRequest(t, ADDRESS, "Dev");
      await certifyRequest(t, old.id);
      const owner = await signInAs(t, ADDRESS);
      for (let view = 0; view < 30; view++) assert.equal((await owner.get(`/requests/${old.id}/replace`)).statusCode, 200);
      const unused = await t.app.db.requestFormToken.count({ where: { usedAt: null } });
      assert.ok(unused <= 20, `${unused} unused form tokens`);
    }));
});
