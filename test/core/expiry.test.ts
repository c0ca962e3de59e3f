import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { currentCertifications, daysLeft, dueThreshold, type CertifiedRequest } from "../../src/core/expiry.ts";

const DAY = 86_400_000;
const EXPIRY = new Date("2028-11-24T11:00:00Z");
const before = (days: number) => new Date(EXPIRY.getTime() - days * DAY);

describe("which expiry reminder is due", () => {
  it("is none before 60 days, then the smallest threshold reached, and none once expired", () => {
    assert.equal(dueThreshold(EXPIRY, before(61)), null);
    assert.equal(dueThreshold(EXPIRY, before(60)), 60);
    assert.equal(dueThreshold(EXPIRY, before(31)), 60);
    assert.equal(dueThreshold(EXPIRY, before(30)), 30);
    assert.equal(dueThreshold(EXPIRY, before(8)), 30);
    assert.equal(dueThreshold(EXPIRY, before(7)), 7);
    assert.equal(dueThreshold(EXPIRY, before(0.1)), 7);
    assert.equal(dueThreshold(EXPIRY, EXPIRY), null);
    assert.equal(dueThreshold(null, before(5)), null);
  });

  it("counts days left as a person does", () => {
    assert.equal(daysLeft(EXPIRY, before(7)), 7);
    assert.equal(daysLeft(EXPIRY, before(6.5)), 7);
    assert.equal(daysLeft(EXPIRY, EXPIRY), 0);
  });
});

describe("the certification that counts for a key", () => {
  const row = (requestId: string, fingerprint: string, certifiedDay: number, revoked = false): CertifiedRequest => ({
    requestId,
    fingerprint,
    ownerEmail: "dev@example.org",
    certifiedAt: new Date(Date.UTC(2026, 0, certifiedDay)),
    expiresAt: EXPIRY,
    revoked,
  });

  it("is the newest one; an older one is superseded and a revoked newest one leaves none", () => {
    const current = currentCertifications([row("new", "A", 10), row("old", "A", 1), row("gone", "B", 5, true), row("kept", "C", 3)]);
    assert.deepEqual(current.map((c) => c.requestId).sort(), ["kept", "new"]);
  });
});
