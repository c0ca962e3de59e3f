import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { verifyAuditChain } from "../../src/core/audit-chain.ts";
import { listAuditChain } from "../../src/repositories/audit.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { exportBatch, importResult, laterBy, queuedRequest, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const DAY = 86_400_000;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** "ABCD EF01 …", computed here rather than by the portal's formatter. */
function grouped(fingerprint: string): string {
  return (fingerprint.match(/.{4}/g) ?? []).join(" ");
}

/** Everything an import could change, apart from the audit events of refusals. */
async function snapshot(t: TestApp) {
  const db = t.app.db;
  return {
    states: (await db.request.findMany({ orderBy: { id: "asc" }, select: { id: true, state: true, version: true } })).map((r) => `${r.id}:${r.state}:${r.version}`),
    batches: (await db.batch.findMany({ orderBy: { number: "asc" }, select: { number: true, state: true, resultSha256: true } })).map((b) => `${b.number}:${b.state}:${b.resultSha256 ?? ""}`),
    certifications: await db.certification.count(),
    revocations: (await db.revocation.findMany({ orderBy: { id: "asc" }, select: { id: true, state: true } })).map((r) => `${r.id}:${r.state}`),
    outcomes: await db.batchItem.count({ where: { outcome: { not: null } } }),
    emails: await db.outboxEmail.count(),
    otherEvents: await db.auditEvent.count({ where: { action: { not: "batch.import_refused" } } }),
  };
}

interface RefusalData {
  batch: number | null;
  fileSha256: string;
  fileBytes: number;
  code: string;
  message: string;
  problemCount: number;
  problems: Array<{ rule: string; itemId: string | null; message: string }>;
}

describe("refused result imports", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let officerId = "";

  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
    officerId = (await t.app.db.staff.findUniqueOrThrow({ where: { email: "sam@keysign.example" } })).id;
  });
  after(async () => t.close());

  /**
   * Imports `file`, expects the refusal, and returns the one audit event it wrote, after
   * checking that nothing else changed and that the audit chain still verifies.
   */
  async function refusal(file: Uint8Array, status: number, pattern: RegExp) {
    const before = await snapshot(t);
    const lastSeq = (await t.app.db.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { seq: true } }))?.seq ?? 0;
    const response = await importResult(desk, file);
    assert.equal(response.statusCode, status, response.body.slice(0, 2000));
    assert.match(response.body, pattern);
    assert.deepEqual(await snapshot(t), before, "a refused import changes nothing but the audit log");
    const events = await t.app.db.auditEvent.findMany({ where: { seq: { gt: lastSeq } } });
    assert.equal(events.length, 1, `exactly one new audit event, got: ${events.map((e) => e.action).join(", ")}`);
    const [event] = events;
    assert.equal(event!.action, "batch.import_refused");
    assert.equal(event!.actorType, "staff");
    assert.equal(event!.actorId, officerId);
    assert.ok(event!.ip);
    assert.deepEqual(event!.at, t.clock.now);
    assert.equal(event!.requestId, null);
    assert.equal(verifyAuditChain(await listAuditChain(t.app.db)).ok, true);
    const data = JSON.parse(event!.data) as RefusalData;
    assert.equal(data.fileSha256, sha256(file));
    assert.equal(data.fileBytes, file.length);
    return { response, data };
  }

  it("records a result that breaks a rule on an item, and the report names the item by applicant, user ID and fingerprint", async () => {
    const ann = await queuedRequest(desk, "ann@example.org", "Ann");
    await queuedRequest(desk, "ben@example.org", "Ben");
    const batch = await exportBatch(desk);
    const annItem = batch.payload.items.find((item) => item.requestId === ann.id);
    assert.ok(annItem);
    const file = await signBatch(batch.file, desk.master, {
      edit: (payload) => {
        const answer = payload.items.find((item) => item.id === annItem.id);
        if (answer?.status === "certified" && answer.userIds[0]) answer.userIds[0].userId = "Mallory <mallory@example.org>";
      },
    });
    const { response, data } = await refusal(file, 422, /The result was refused and nothing was changed/);
    assert.equal(data.batch, batch.number);
    assert.equal(data.code, "KEYSIGN_ERR_RESULT_REFUSED");
    assert.ok(data.problems.length > 0);
    assert.equal(data.problemCount, data.problems.length);
    for (const problem of data.problems) {
      assert.equal(problem.itemId, annItem.id);
      assert.ok(problem.rule);
    }
    assert.ok(data.problems.some((problem) => /was not approved for this key/.test(problem.message)), JSON.stringify(data.problems));

    const row = /<tbody>[\s\S]*?<\/tbody>/.exec(response.body)?.[0] ?? "";
    assert.match(row, new RegExp(`<a href="/admin/requests/${ann.id}">ann@example.org</a>`));
    assert.match(row, /Ann &lt;ann@example.org&gt;/);
    assert.ok(row.includes(grouped(ann.key.fingerprint)), row);
    assert.ok(!row.includes(annItem.id), "the item's id is not how a person finds it");
  });

  it("records a result that breaks a rule of the whole file, and the report says so", async () => {
    await queuedRequest(desk, "whole@example.org");
    const batch = await exportBatch(desk);
    const file = await signBatch(batch.file, desk.master, { edit: (payload) => void (payload.batchSha256 = "0".repeat(64)) });
    const { response, data } = await refusal(file, 422, /made from a different batch file/);
    assert.equal(data.batch, batch.number);
    assert.deepEqual(data.problems.map((problem) => [problem.rule, problem.itemId]), [["batch", null]]);
    assert.match(/<tbody>[\s\S]*?<\/tbody>/.exec(response.body)?.[0] ?? "", /<td>Whole result<\/td>/);
  });

  it("keeps at most 20 problems in the event, and counts them all", async () => {
    await queuedRequest(desk, "many@example.org");
    const batch = await exportBatch(desk);
    const strangers = Array.from({ length: 30 }, (): string => randomUUID());
    const file = await signBatch(batch.file, desk.master, {
      edit: (payload) => void payload.items.push(...strangers.map((id) => ({ id, status: "declined" as const, reason: "x".repeat(1000) }))),
    });
    const { response, data } = await refusal(file, 422, /30 check\(s\) failed/);
    assert.equal(data.problemCount, 30);
    assert.equal(data.problems.length, 20);
    assert.ok(data.problems.every((problem) => problem.itemId !== null && strangers.includes(problem.itemId)));
    assert.ok(JSON.stringify(data).length < 20_000);
    assert.match(response.body, new RegExp(`An item not in the batch: <code>${strangers[0]}</code>`));
  });

  it("records refusals made before any item is checked: a changed file, an unknown batch, a second result, an expired and a cancelled batch", async () => {
    await queuedRequest(desk, "first@example.org");
    const batch = await exportBatch(desk);
    const good = await signBatch(batch.file, desk.master);

    const text = Buffer.from(good).toString("utf8");
    const at = text.indexOf('"payload": "') + 20;
    const flipped = Buffer.from(text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1));
    const changed = await refusal(flipped, 422, /signature does not verify/);
    assert.equal(changed.data.batch, null, "an unverified file names no batch we could trust");
    assert.equal(changed.data.code, "KEYSIGN_ERR_TRANSFER_SIGNATURE");
    assert.deepEqual(changed.data.problems, []);
    assert.match(changed.data.message, /signature does not verify/);

    const unknown = await refusal(await signBatch(batch.file, desk.master, { edit: (payload) => void (payload.batch = 99) }), 422, /batch 99, which this portal never exported/);
    assert.equal(unknown.data.batch, 99);
    assert.equal(unknown.data.code, "KEYSIGN_ERR_UNKNOWN_BATCH");

    const imported = await importResult(desk, good);
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 1500));
    // The same file again is a harmless replay, not a refusal: nothing at all is written.
    const eventsBefore = await t.app.db.auditEvent.count();
    const replay = await importResult(desk, good);
    assert.match(replay.body, /already imported from this very result/);
    assert.equal(await t.app.db.auditEvent.count(), eventsBefore);

    const other = await signBatch(batch.file, desk.master, { at: new Date(new Date(batch.payload.createdAt).getTime() + 120_000) });
    const second = await refusal(other, 409, /already imported from a different result file/);
    assert.deepEqual([second.data.batch, second.data.code], [batch.number, "KEYSIGN_ERR_BATCH_IMPORTED"]);

    await queuedRequest(desk, "late@example.org");
    const late = await exportBatch(desk);
    const lateFile = await signBatch(late.file, desk.master);
    await laterBy(desk, 15 * DAY);
    const expired = await refusal(lateFile, 409, /expired at/);
    assert.deepEqual([expired.data.batch, expired.data.code], [late.number, "KEYSIGN_ERR_BATCH_EXPIRED"]);
    const cancel = await desk.officer.postForm(`/admin/signing/batches/${late.number}/cancel`, {}, `/admin/signing/batches/${late.number}`);
    assert.equal(cancel.statusCode, 303);
    const cancelled = await refusal(lateFile, 409, /was cancelled/);
    assert.deepEqual([cancelled.data.batch, cancelled.data.code], [late.number, "KEYSIGN_ERR_BATCH_CANCELLED"]);
  });
});
