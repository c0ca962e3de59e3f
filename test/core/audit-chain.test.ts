import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GENESIS_HASH, hashAuditEvent, verifyAuditChain, type AuditFields, type ChainedAuditEvent } from "../../src/core/audit-chain.ts";

function chain(count: number): ChainedAuditEvent[] {
  const events: ChainedAuditEvent[] = [];
  let prevHash = GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const fields: AuditFields = {
      seq,
      at: new Date(Date.UTC(2026, 10, 24, 12, seq)),
      actorType: "applicant",
      actorId: `a${seq}`,
      ip: "192.0.2.1",
      action: "request.submit",
      requestId: "r1",
      fromState: null,
      toState: "submitted",
      data: JSON.stringify({ n: seq }),
    };
    const hash = hashAuditEvent(fields, prevHash);
    events.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return events;
}

describe("audit hash chain", () => {
  it("verifies an intact chain and reports its head", () => {
    const events = chain(5);
    assert.deepEqual(verifyAuditChain(events), { ok: true, count: 5, head: events[4]?.hash });
  });

  it("detects an edited field at the edited event", () => {
    const events = chain(5);
    events[2] = { ...events[2]!, data: JSON.stringify({ n: 99 }) };
    assert.deepEqual(verifyAuditChain(events), { ok: false, brokenAt: 3, reason: "hash_mismatch" });
  });

  it("detects an edit whose hash was recomputed, at the next event", () => {
    const events = chain(5);
    const edited = { ...events[1]!, actorId: "someone-else" };
    events[1] = { ...edited, hash: hashAuditEvent(edited, edited.prevHash) };
    assert.deepEqual(verifyAuditChain(events), { ok: false, brokenAt: 3, reason: "prev_mismatch" });
  });

  it("detects a deleted event", () => {
    const events = chain(5);
    events.splice(3, 1);
    assert.deepEqual(verifyAuditChain(events), { ok: false, brokenAt: 5, reason: "gap" });
  });

  it("detects a deleted first event", () => {
    assert.deepEqual(verifyAuditChain(chain(3).slice(1)), { ok: false, brokenAt: 2, reason: "gap" });
  });

  it("does not let two fields trade text (the encoding is unambiguous)", () => {
    const [event] = chain(1);
    const a = hashAuditEvent({ ...event!, actorId: "ab", ip: "c" }, GENESIS_HASH);
    const b = hashAuditEvent({ ...event!, actorId: "a", ip: "bc" }, GENESIS_HASH);
    assert.notEqual(a, b);
  });
});
