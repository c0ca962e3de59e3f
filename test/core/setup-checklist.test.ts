import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setupItems, type SetupFacts } from "../../src/core/setup-checklist.ts";

const READY: SetupFacts = {
  masterFingerprint: "A".repeat(40),
  certificationDomain: "keys.example.org",
  activeReviewers: 2,
  approvalsRequired: 2,
  smtpConfigured: true,
  lastDelivery: { outcome: "sent", at: new Date("2026-11-30T12:00:00Z") },
  signingSchedule: "on the first Monday of each month",
};

function done(facts: Partial<SetupFacts>): Record<string, boolean> {
  return Object.fromEntries(setupItems({ ...READY, ...facts }).map((item) => [item.id, item.done]));
}

describe("setupItems", () => {
  it("is all done for a ready portal", () => {
    assert.deepEqual(done({}), { "master-key": true, "notation-domain": true, reviewers: true, mail: true, schedule: true });
  });

  it("flips each item on its own condition", () => {
    assert.equal(done({ masterFingerprint: "" })["master-key"], false);
    assert.equal(done({ certificationDomain: "" })["notation-domain"], false);
    assert.equal(done({ activeReviewers: 1 }).reviewers, false);
    assert.equal(done({ activeReviewers: 3, approvalsRequired: 3 }).reviewers, true);
    assert.equal(done({ smtpConfigured: false }).mail, false);
    assert.equal(done({ lastDelivery: { outcome: "failing", attempts: 2 } }).mail, false);
    assert.equal(done({ lastDelivery: null }).mail, true);
    assert.equal(done({ signingSchedule: "  " }).schedule, false);
  });
});
