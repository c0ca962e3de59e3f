import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RENEWAL_GRACE_DAYS, renewalRefusal, renewedUserIds, type RenewalFacts } from "../../src/core/renewal.ts";

const NOW = new Date("2026-11-30T12:00:00Z");
const DAY_MS = 86_400_000;

const certified: RenewalFacts = {
  state: "certified",
  certificationExpiresAt: new Date(NOW.getTime() + 40 * DAY_MS),
  hasLiveCertification: true,
  renewal: null,
  openRequest: null,
};

describe("when a certification may be renewed", () => {
  it("allows a certified request, in force or lapsed within the grace period", () => {
    assert.equal(renewalRefusal(certified, NOW), null);
    const lapsed = { ...certified, certificationExpiresAt: new Date(NOW.getTime() - RENEWAL_GRACE_DAYS * DAY_MS + 60_000) };
    assert.equal(renewalRefusal(lapsed, NOW), null);
    assert.equal(renewalRefusal({ ...certified, certificationExpiresAt: null }, NOW), null);
  });

  it("refuses a certification that lapsed more than the grace period ago, saying what to do", () => {
    const old = { ...certified, certificationExpiresAt: new Date(NOW.getTime() - (RENEWAL_GRACE_DAYS + 1) * DAY_MS) };
    const refusal = renewalRefusal(old, NOW);
    assert.equal(refusal?.code, "KEYSIGN_ERR_RENEW_TOO_LATE");
    assert.match(refusal?.message ?? "", /more than 90 days ago.*Make a new request/);
  });

  it("refuses revoked requests, requests never certified and requests whose certifications were all revoked", () => {
    assert.equal(renewalRefusal({ ...certified, state: "revoked" }, NOW)?.code, "KEYSIGN_ERR_RENEW_REVOKED");
    assert.equal(renewalRefusal({ ...certified, state: "in_review" }, NOW)?.code, "KEYSIGN_ERR_RENEW_STATE");
    assert.equal(renewalRefusal({ ...certified, hasLiveCertification: false }, NOW)?.code, "KEYSIGN_ERR_RENEW_STATE");
  });

  it("refuses a second renewal and a renewal while another request for the key is open, naming it", () => {
    const open = renewalRefusal({ ...certified, renewal: { id: "r2", state: "in_review" } }, NOW);
    assert.equal(open?.code, "KEYSIGN_ERR_RENEW_EXISTS");
    assert.match(open?.message ?? "", /is already being renewed.*\/requests\/r2/);
    assert.match(renewalRefusal({ ...certified, renewal: { id: "r2", state: "certified" } }, NOW)?.message ?? "", /was already renewed/);
    assert.equal(renewalRefusal({ ...certified, openRequest: { id: "r3", own: true } }, NOW)?.message, "Another request for this key is open (/requests/r3). Finish or withdraw it first.");
    // Another applicant's request is not named.
    const theirs = renewalRefusal({ ...certified, openRequest: { id: "r3", own: false } }, NOW);
    assert.equal(theirs?.code, "KEYSIGN_ERR_RENEW_OPEN");
    assert.doesNotMatch(theirs?.message ?? "", /r3/);
  });

  it("renews only user IDs still on the key, once each", () => {
    assert.deepEqual(renewedUserIds(["A <a@x.org>", "B <b@x.org>", "A <a@x.org>"], ["B <b@x.org>", "A <a@x.org>"]), ["A <a@x.org>", "B <b@x.org>"]);
    assert.deepEqual(renewedUserIds(["A <a@x.org>", "Gone <g@x.org>"], ["A <a@x.org>"]), ["A <a@x.org>"]);
  });
});
