import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { makeCertification, userIdBytes } from "../../src/core/transfer/certification.ts";
import { TAG, writePacket } from "../../src/core/key-policy/packets.ts";
import { openEnvelope, sealEnvelope } from "../../src/core/transfer/envelope.ts";
import { parseEnvelope } from "../../src/core/transfer/formats.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { CERTIFICATION_DOMAIN, exportBatch, importResult, laterBy, makeMaster, ORGANISATION, queuedRequest, setMaster, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const DAY = 86_400_000;

async function snapshot(t: TestApp) {
  const db = t.app.db;
  return {
    states: (await db.request.findMany({ orderBy: { id: "asc" }, select: { id: true, state: true, version: true } })).map((r) => `${r.id}:${r.state}:${r.version}`),
    batches: (await db.batch.findMany({ orderBy: { number: "asc" }, select: { number: true, state: true } })).map((b) => `${b.number}:${b.state}`),
    certifications: await db.certification.count(),
    outcomes: await db.batchItem.count({ where: { outcome: { not: null } } }),
    emails: await db.outboxEmail.count(),
    // A refused import leaves one audit event and nothing else (its own tests count it).
    audit: await db.auditEvent.count({ where: { action: { not: "batch.import_refused" } } }),
  };
}

describe("signing queue: export", () => {
  let t: TestApp;
  let desk: SigningDesk;
  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
  });
  after(async () => t.close());

  it("refuses to export an empty queue and makes no batch", async () => {
    const response = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    assert.equal(response.statusCode, 409);
    assert.match(response.body, /Nothing is waiting for signing, so no batch was made/);
    assert.equal(await t.app.db.batch.count(), 0);
  });

  it("exports the queue as batch 1, signed by the queue key, with what was approved", async () => {
    const { id, key } = await queuedRequest(desk, "dev1@example.org", "Dev One");
    const queue = await desk.officer.get("/admin/signing");
    assert.match(queue.body, new RegExp(id));
    const { number, file, payload } = await exportBatch(desk);
    assert.equal(number, 1);

    const queueKeyArmored = (await desk.officer.get("/admin/signing/queue-key.asc")).body;
    const queueKey = await openpgp.readKey({ armoredKey: queueKeyArmored });
    const opened = await openEnvelope(file, "batch", queueKey, "queue key");
    assert.equal(opened.sha256, (await t.app.db.batch.findUniqueOrThrow({ where: { number } })).sha256);

    const [item] = payload.items;
    assert.equal(payload.items.length, 1);
    assert.equal(item?.kind, "certify");
    assert.equal(item?.requestId, id);
    assert.equal(item?.fingerprint, key.fingerprint);
    assert.deepEqual(item?.userIds, ["Dev One <dev1@example.org>"]);
    assert.deepEqual(item?.approvals.map((a) => a.staff).sort(), ["ravi@keysign.example", "rita@keysign.example"]);
    assert.equal(payload.master, desk.master.getFingerprint().toUpperCase());
    assert.equal(new Date(payload.expiresAt).getTime() - new Date(payload.createdAt).getTime(), 14 * DAY);
    if (item?.kind !== "certify") throw new Error("unreachable");
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    // The notation domain is the certification domain setting, never the portal's host name.
    assert.deepEqual(item.certification.notations, [
      { name: `request@${CERTIFICATION_DOMAIN}`, value: id },
      { name: `agreement-sha256@${CERTIFICATION_DOMAIN}`, value: agreement.sha256 },
      { name: `batch@${CERTIFICATION_DOMAIN}`, value: "1" },
    ]);
    assert.equal(item.certification.validityDays, 730);
    assert.equal(payload.organisation, ORGANISATION);
    assert.equal(item.statusUrl, `http://portal.keysign.test/keys/${key.fingerprint}`);
    assert.deepEqual(item.history, []);

    const page = await desk.officer.get(`/admin/signing/batches/${number}`);
    assert.match(page.body, new RegExp(opened.sha256.slice(0, 8)));
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "exported");
    assert.equal(await t.app.db.auditEvent.count({ where: { requestId: id, action: "request.export" } }), 1);
  });

  it("puts an item in one open batch only: a second export finds nothing to do", async () => {
    const response = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    assert.equal(response.statusCode, 409);
    assert.equal(await t.app.db.batch.count(), 1);
  });

  it("serialises concurrent exports: exactly one batch, the other click is told nothing waits", async () => {
    await queuedRequest(desk, "dev2@example.org");
    const post = () => desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    const statuses = (await Promise.all([post(), post()])).map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [303, 409]);
    assert.equal(await t.app.db.batch.count(), 2);
  });

  it("cancels only an expired batch, and returns its items to the queue", async () => {
    const early = await desk.officer.postForm("/admin/signing/batches/2/cancel", {}, "/admin/signing/batches/2");
    assert.equal(early.statusCode, 409);
    assert.match(early.body, /Batch 2 can still be signed until/);
    assert.equal((await t.app.db.batch.findUniqueOrThrow({ where: { number: 2 } })).state, "exported");

    await laterBy(desk, 15 * DAY);
    const cancelled = await desk.officer.postForm("/admin/signing/batches/2/cancel", {}, "/admin/signing/batches/2");
    assert.equal(cancelled.statusCode, 303);
    assert.equal((await t.app.db.batch.findUniqueOrThrow({ where: { number: 2 } })).state, "cancelled");
    const item = await t.app.db.batchItem.findFirstOrThrow({ where: { batchNumber: 2 } });
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: item.requestId } })).state, "queued");
    const again = await desk.officer.postForm("/admin/signing/batches/2/cancel", {}, "/admin/signing/batches/2");
    assert.equal(again.statusCode, 409);
  });
});

describe("signing queue: import", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let batch: Awaited<ReturnType<typeof exportBatch>>;
  let ids: string[];
  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
    ids = [(await queuedRequest(desk, "ann@example.org", "Ann")).id, (await queuedRequest(desk, "ben@example.org", "Ben")).id];
    batch = await exportBatch(desk);
  });
  after(async () => t.close());

  /** Imports `file` and asserts it is refused with `status` and `pattern`, and that nothing changed. */
  async function refused(file: Uint8Array, status: number, pattern: RegExp) {
    const before = await snapshot(t);
    const response = await importResult(desk, file);
    assert.equal(response.statusCode, status, response.body.slice(0, 2000));
    assert.match(response.body, pattern);
    assert.deepEqual(await snapshot(t), before);
  }

  it("refuses a result changed by one byte", async () => {
    const file = Buffer.from(await signBatch(batch.file, desk.master));
    const text = file.toString("utf8");
    const at = text.indexOf('"payload": "') + 20;
    const flipped = Buffer.from(text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1));
    await refused(flipped, 422, /signature does not verify: the file was changed after it was signed/);
  });

  it("refuses a truncated result", async () => {
    const file = await signBatch(batch.file, desk.master);
    await refused(file.subarray(0, Math.floor(file.length / 2)), 422, /not valid UTF-8 JSON; it may be truncated or damaged/);
  });

  it("refuses a batch file offered as a result", async () => {
    await refused(batch.file, 422, /This is a batch file/);
  });

  it("refuses a result signed by another key", async () => {
    const other = await makeMaster();
    await refused(await signBatch(batch.file, desk.master, { fileSigner: other }), 422, /not by the master key .*Only the master key&#x27;s primary key is accepted/);
  });

  it("refuses a result signed by a master subkey that cannot certify", async () => {
    const { privateKey } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ email: "m2@keysign.example" }], subkeys: [{ sign: true }], date: new Date("2026-01-01Z"), format: "object" });
    await setMaster(desk, privateKey);
    try {
      const bytes = Buffer.from(parseEnvelope(await signBatch(batch.file, privateKey)).payload, "base64");
      const subkeyOnly = await openpgp.sign({ message: await openpgp.createMessage({ binary: bytes }), signingKeys: privateKey, signingKeyIDs: privateKey.subkeys[0]?.getKeyID(), detached: true, date: new Date(t.clock.now.getTime() - 1000) });
      await refused(sealEnvelope("result", bytes, subkeyOnly), 422, /Only the master key&#x27;s primary key is accepted/);
    } finally {
      await setMaster(desk, desk.master);
    }
  });

  it("refuses a certification of a user ID that was not approved", async () => {
    const file = await signBatch(batch.file, desk.master, {
      edit: (payload) => {
        const item = payload.items[0];
        if (item?.status === "certified" && item.userIds[0]) item.userIds[0].userId = "Mallory <mallory@example.org>";
      },
    });
    await refused(file, 422, /was not approved for this key/);
  });

  it("refuses a certification made over another key", async () => {
    const file = await signBatch(batch.file, desk.master, {
      edit: async (payload) => {
        const [first, second] = batch.payload.items;
        const answer = payload.items[0];
        if (first?.kind !== "certify" || second?.kind !== "certify" || answer?.status !== "certified" || !answer.userIds[0]) throw new Error("unexpected batch");
        // Ann's user ID and parameters, but signed over Ben's primary key.
        const bens = (await openpgp.readKey({ binaryKey: new Uint8Array(Buffer.from(second.key, "base64")) })).keyPacket as openpgp.PublicKeyPacket;
        const at = new Date(new Date(batch.payload.createdAt).getTime() + 60_000);
        answer.userIds[0].certification = Buffer.from(await makeCertification(desk.master, { key: bens, userId: userIdBytes(first.userIds[0] ?? "") }, first.certification, at)).toString("base64");
      },
    });
    await refused(file, 422, /does not verify over the approved key and user ID/);
  });

  it("refuses certifications made outside the batch window", async () => {
    const file = await signBatch(batch.file, desk.master, { at: new Date(new Date(batch.payload.createdAt).getTime() - 60_000) });
    await refused(file, 422, /outside the batch window/);
  });

  it("refuses a partially signed result", async () => {
    const file = await signBatch(batch.file, desk.master, { edit: (payload) => void payload.items.pop() });
    await refused(file, 422, /does not answer this item \(partially signed result\)/);
  });

  it("refuses a result for a batch this portal never exported", async () => {
    await refused(await signBatch(batch.file, desk.master, { edit: (payload) => void (payload.batch = 99) }), 422, /batch 99, which this portal never exported/);
  });

  it("refuses a result made from another batch file", async () => {
    await refused(await signBatch(batch.file, desk.master, { edit: (payload) => void (payload.batchSha256 = "0".repeat(64)) }), 422, /made from a different batch file/);
  });

  it("imports a good result at once: requests certified, certifications stored, one audit event", async () => {
    const file = await signBatch(batch.file, desk.master);
    const response = await importResult(desk, file);
    assert.equal(response.statusCode, 200, response.body.slice(0, 2000));
    assert.match(response.body, /Batch 1 imported: 2 certified, 0 declined/);
    for (const id of ids) assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "certified");
    assert.equal(await t.app.db.certification.count(), 2);
    // Each certification names the master that made it, so a rotation can tell old from new.
    const masters = (await t.app.db.certification.findMany({ select: { masterFingerprint: true } })).map((row) => row.masterFingerprint);
    assert.deepEqual(masters, [desk.master.getFingerprint().toUpperCase(), desk.master.getFingerprint().toUpperCase()]);
    assert.equal(await t.app.db.auditEvent.count({ where: { action: "batch.import" } }), 1);
    assert.equal((await t.app.db.batch.findUniqueOrThrow({ where: { number: 1 } })).state, "imported");

    const before = await snapshot(t);
    const replay = await importResult(desk, file);
    assert.equal(replay.statusCode, 200);
    assert.match(replay.body, /already imported from this very result. Nothing changed/);
    assert.deepEqual(await snapshot(t), before);

    const other = await signBatch(batch.file, desk.master, { at: new Date(new Date(batch.payload.createdAt).getTime() + 120_000) });
    await refused(other, 409, /already imported from a different result file/);
  });
});

describe("signing queue: declines, expiry, concurrency and crashes", () => {
  let t: TestApp;
  let desk: SigningDesk;
  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
  });
  after(async () => t.close());

  it("returns declined items to review with the signer's reason and certifies the rest", async () => {
    const declined = await queuedRequest(desk, "dee@example.org");
    const signed = await queuedRequest(desk, "sig@example.org");
    const batch = await exportBatch(desk);
    const file = await signBatch(batch.file, desk.master, { decline: new Map([[declined.id, "Agreement page 2 is unsigned"]]) });
    const response = await importResult(desk, file);
    assert.equal(response.statusCode, 200, response.body.slice(0, 1500));
    assert.match(response.body, /1 certified, 1 declined/);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: declined.id } })).state, "in_review");
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: signed.id } })).state, "certified");
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { requestId: declined.id, action: "request.decline" } });
    assert.match(event.data, /Agreement page 2 is unsigned/);
    const page = await desk.officer.get(`/admin/signing/batches/${batch.number}`);
    assert.match(page.body, /Declined by the signer: Agreement page 2 is unsigned/);
  });

  it("applies one of two simultaneous imports of the same result; the other changes nothing", async () => {
    await queuedRequest(desk, "twice@example.org");
    const batch = await exportBatch(desk);
    const file = await signBatch(batch.file, desk.master);
    const [a, b] = await Promise.all([importResult(desk, file), importResult(desk, file)]);
    const bodies = [a.body, b.body];
    assert.deepEqual([a.statusCode, b.statusCode], [200, 200]);
    assert.equal(bodies.filter((body) => /imported: 1 certified/.test(body)).length, 1);
    assert.equal(bodies.filter((body) => /already imported from this very result/.test(body)).length, 1);
    assert.equal(await t.app.db.auditEvent.count({ where: { action: "batch.import", data: { contains: `"batch":${batch.number}` } } }), 1);
  });

  it("leaves nothing half-applied when the database fails mid-import, and the retry succeeds", async () => {
    const first = await queuedRequest(desk, "crash1@example.org");
    const second = await queuedRequest(desk, "crash2@example.org");
    const batch = await exportBatch(desk);
    const file = await signBatch(batch.file, desk.master);
    // A real failure inside the transaction, after the first item has been written.
    await t.app.db.$executeRawUnsafe(`CREATE TRIGGER fail_second BEFORE INSERT ON "Certification" WHEN NEW."requestId" = '${second.id}' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`);
    const before = await snapshot(t);
    const crashed = await importResult(desk, file);
    assert.equal(crashed.statusCode, 500);
    assert.deepEqual(await snapshot(t), before);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: first.id } })).state, "exported");
    await t.app.db.$executeRawUnsafe("DROP TRIGGER fail_second");
    const retry = await importResult(desk, file);
    assert.equal(retry.statusCode, 200, retry.body.slice(0, 1500));
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: second.id } })).state, "certified");
  });

  it("refuses the result of an expired batch, and of a cancelled one", async () => {
    await queuedRequest(desk, "late@example.org");
    const batch = await exportBatch(desk);
    const file = await signBatch(batch.file, desk.master);
    await laterBy(desk, 15 * DAY);
    const expired = await importResult(desk, file);
    assert.equal(expired.statusCode, 409);
    assert.match(expired.body, new RegExp(`Batch ${batch.number} expired at .*Cancel the batch and export a new one`));
    await desk.officer.postForm(`/admin/signing/batches/${batch.number}/cancel`, {}, `/admin/signing/batches/${batch.number}`);
    const cancelled = await importResult(desk, file);
    assert.equal(cancelled.statusCode, 409);
    assert.match(cancelled.body, /was cancelled, so its result cannot be imported/);
  });

  it("refuses SHA-1 certifications", async () => {
    const rsaMaster = await makeMaster("rsa3072");
    await setMaster(desk, rsaMaster);
    await queuedRequest(desk, "sha1@example.org");
    const batch = await exportBatch(desk);
    const { SignaturePacket, enums } = openpgp;
    const file = await signBatch(batch.file, rsaMaster, {
      edit: async (payload) => {
        const item = payload.items[0];
        const batchItem = batch.payload.items[0];
        if (item?.status !== "certified" || batchItem?.kind !== "certify" || !item.userIds[0]) return;
        const key = await openpgp.readKey({ binaryKey: new Uint8Array(Buffer.from(batchItem.key, "base64")) });
        const signature = new SignaturePacket();
        signature.signatureType = enums.signature.certGeneric;
        signature.publicKeyAlgorithm = rsaMaster.keyPacket.algorithm;
        signature.hashAlgorithm = enums.hash.sha1;
        signature.issuerKeyVersion = 4;
        signature.issuerFingerprint = rsaMaster.keyPacket.getFingerprintBytes();
        signature.issuerKeyID = rsaMaster.getKeyID();
        signature.created = new Date(new Date(batch.payload.createdAt).getTime() + 60_000);
        signature.signatureExpirationTime = batchItem.certification.validityDays * 86_400;
        signature.rawNotations = batchItem.certification.notations.map(({ name, value }) => ({ name, value: new TextEncoder().encode(value), humanReadable: true, critical: false }));
        const sign = signature.sign.bind(signature) as (k: unknown, d: unknown, date: Date, detached: boolean, config: unknown) => Promise<void>;
        await sign(rsaMaster.keyPacket, { key: key.keyPacket, userID: { write: () => new TextEncoder().encode(batchItem.userIds[0]) } }, signature.created, false, { ...openpgp.config, nonDeterministicSignaturesViaNotation: false, rejectHashAlgorithms: new Set() });
        item.userIds[0].certification = Buffer.from(writePacket(TAG.signature, signature.write())).toString("base64");
      },
    });
    const response = await importResult(desk, file);
    assert.equal(response.statusCode, 422);
    assert.match(response.body, /uses SHA-1; SHA-256 or stronger is required/);
    assert.equal(await t.app.db.batch.count({ where: { number: batch.number, state: "exported" } }), 1);
  });
});
