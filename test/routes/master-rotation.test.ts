/**
 * A master rotation through the staff pages, with the offline signer played in-process
 * (test/helpers/signing-queue.ts): a second master beside the current one, one
 * re-certification batch for it, results checked against the batch's master, revocations by
 * both masters, and the old master retired.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { formatFingerprint, LIMITS } from "../../src/core/key-policy.ts";
import { certificationExpiry } from "../../src/core/publication/key-status.ts";
import { parseBatchPayload, parseEnvelope, type BatchPayload } from "../../src/core/transfer/formats.ts";
import { makeCertification, userIdBytes } from "../../src/core/transfer/certification.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { b64, exportBatch, importResult, makeMaster, queuedRequest, recertifyBatch, registerNewMaster, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const fp = (key: openpgp.PrivateKey) => key.getFingerprint().toUpperCase();

async function certified(desk: SigningDesk, address: string, master: openpgp.PrivateKey) {
  const request = await queuedRequest(desk, address, "Dev");
  const batch = await exportBatch(desk);
  const imported = await importResult(desk, await signBatch(batch.file, master));
  assert.equal(imported.statusCode, 200, imported.body.slice(0, 800));
  return request;
}

async function certificationsOf(t: TestApp, requestId: string) {
  return t.app.db.certification.findMany({ where: { requestId }, orderBy: { certifiedAt: "asc" } });
}

describe("master rotation", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let oldMaster: openpgp.PrivateKey;
  let newMaster: openpgp.PrivateKey;
  before(async () => {
    t = await createTestApp();
    oldMaster = await makeMaster();
    newMaster = await makeMaster();
    desk = await signingDesk(t, oldMaster);
  });
  after(async () => t.close());

  it("registers a second master beside the current one, refuses the current one, and audits it", async () => {
    const again = await registerNewMaster(desk, oldMaster);
    assert.equal(again.statusCode, 400);
    assert.match(again.body, /This is the current master key/);
    assert.equal(await t.app.db.setting.count({ where: { key: "newMasterFingerprint" } }), 0);

    const secret = await desk.admin.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: newMaster.armor() }], "/admin/settings");
    assert.equal(secret.statusCode, 400);
    assert.match(secret.body, /Secret key material detected; nothing was stored/);

    const huge = await desk.admin.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyFile", filename: "master.asc", content: new Uint8Array(LIMITS.maxUploadBytes + 1) }], "/admin/settings");
    assert.equal(huge.statusCode, 413);
    assert.equal(await t.app.db.setting.count({ where: { key: "newMasterFingerprint" } }), 0);

    const response = await registerNewMaster(desk, newMaster);
    assert.equal(response.statusCode, 303);
    const page = await desk.admin.get("/admin/settings");
    assert.match(page.body, new RegExp(`${formatFingerprint(fp(oldMaster))}</td><td>current`));
    assert.match(page.body, new RegExp(`${formatFingerprint(fp(newMaster))}</td><td>new \\(being introduced\\)`));
    assert.match(page.body, /id="retire-confirm"[^>]*required/);
    const twice = await registerNewMaster(desk, newMaster);
    assert.equal(twice.statusCode, 400);
    assert.match(twice.body, /A new master is already registered/);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "master.register_new" } });
    assert.deepEqual(JSON.parse(event.data), { fingerprint: fp(newMaster), current: fp(oldMaster) });
  });

  let first: string;
  let second: string;
  it("keeps normal batches on the current master", async () => {
    first = (await certified(desk, "one@example.org", oldMaster)).id;
    await queuedRequest(desk, "two@example.org", "Dev");
    const batch = await exportBatch(desk);
    assert.equal(batch.payload.master, fp(oldMaster));
    // A result signed by the new master for the old master's batch is refused, and nothing changes.
    const wrong = await importResult(desk, await signBatch(batch.file, newMaster, { edit: (payload) => void (payload.master = fp(newMaster)) }));
    assert.equal(wrong.statusCode, 422);
    assert.match(wrong.body.replace(/\s+/g, " "), /was exported for master key .*but the result is signed by/, wrong.body.match(/alert[^<]*<[^<]*/g)?.join("\n"));
    const imported = await importResult(desk, await signBatch(batch.file, oldMaster));
    assert.equal(imported.statusCode, 200);
    second = batch.payload.items[0]?.requestId ?? "";
  });

  let thirdRequest = "";
  let recertified: { number: number; file: Uint8Array; payload: BatchPayload };
  it("exports one re-certification batch for the new master with every live certification", async () => {
    const queue = await desk.officer.get("/admin/signing");
    assert.match(queue.body, /Re-certify with the new master/);
    recertified = await recertifyBatch(desk);
    const { payload } = recertified;
    assert.equal(payload.master, fp(newMaster));
    assert.deepEqual(payload.items.map((item) => item.kind), ["recertify", "recertify"]);
    assert.deepEqual(payload.items.map((item) => item.requestId).sort(), [first, second].sort());
    const item = payload.items.find((entry) => entry.requestId === first);
    assert.ok(item?.kind === "recertify");
    assert.equal(item.previousMaster, fp(oldMaster));
    // Never outlasts the old certification: whole days from the batch's expiry to the old expiry.
    const [old] = await certificationsOf(t, first);
    const oldExpiry = certificationExpiry(old!.signature)!;
    assert.equal(item.certification.validityDays, Math.floor((oldExpiry.getTime() - new Date(payload.expiresAt).getTime()) / 86_400_000));
    assert.match((await desk.officer.get("/admin/signing")).body, new RegExp(`Batch ${recertified.number}</a> with re-certifications is open`));
    const again = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
    assert.equal(again.statusCode, 409);
    assert.match(again.body, /with re-certifications is still open/);
  });

  it("refuses the re-certification result signed by the old master, and imports it signed by the new one", async () => {
    const emails = await t.app.db.outboxEmail.count();
    const versions = await t.app.db.request.findMany({ select: { id: true, state: true, version: true }, orderBy: { id: "asc" } });
    const wrong = await importResult(desk, await signBatch(recertified.file, oldMaster, { edit: (payload) => void (payload.master = fp(oldMaster)) }));
    assert.equal(wrong.statusCode, 422);
    assert.equal(await t.app.db.certification.count({ where: { masterFingerprint: fp(newMaster) } }), 0);

    // A re-certification that would outlast the one it repeats (a longer validity than the batch says) is refused like any certification.
    const longer = await importResult(
      desk,
      await signBatch(recertified.file, newMaster, {
        edit: async (payload) => {
          const item = recertified.payload.items[0];
          const answer = payload.items.find((entry) => entry.id === item?.id);
          if (item?.kind !== "recertify" || answer?.status !== "certified") throw new Error("expected a re-certification");
          const key = (await openpgp.readKey({ binaryKey: Buffer.from(item.key, "base64") })).keyPacket as openpgp.PublicKeyPacket;
          const at = new Date(new Date(recertified.payload.createdAt).getTime() + 60_000);
          const extended = { ...item.certification, validityDays: item.certification.validityDays + 30 };
          answer.userIds[0]!.certification = b64(await makeCertification(newMaster, { key, userId: userIdBytes(item.userIds[0]!) }, extended, at));
        },
      }),
    );
    assert.equal(longer.statusCode, 422);
    assert.match(longer.body, /the batch asked for \d+ days/);
    assert.equal(await t.app.db.certification.count({ where: { masterFingerprint: fp(newMaster) } }), 0);

    const imported = await importResult(desk, await signBatch(recertified.file, newMaster));
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 800));
    const rows = await certificationsOf(t, first);
    assert.deepEqual(rows.map((row) => row.masterFingerprint), [fp(oldMaster), fp(newMaster)]);
    assert.ok(certificationExpiry(rows[1]!.signature)! <= certificationExpiry(rows[0]!.signature)!);
    assert.ok(rows[1]!.sealedRevocation);
    // The request is as certified as before: no state change, no email.
    assert.deepEqual(await t.app.db.request.findMany({ select: { id: true, state: true, version: true }, orderBy: { id: "asc" } }), versions);
    assert.equal(await t.app.db.outboxEmail.count(), emails);
  });

  it("a second re-certification contains only what the first did not cover", async () => {
    const nothing = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
    assert.equal(nothing.statusCode, 409);
    assert.match(nothing.body, /Every live certification is already made by the new master/);
    const third = (await certified(desk, "three@example.org", oldMaster)).id;
    thirdRequest = third;
    // A key its owner revoked (sent to the portal like any owner update) is not certified again.
    const ownerRevoked = await certified(desk, "owner-revoked@example.org", oldMaster);
    const { publicKey } = await openpgp.revokeKey({ key: await openpgp.readPrivateKey({ armoredKey: ownerRevoked.key.privateArmored }), date: t.clock.now });
    const sent = await t.app.inject({ method: "POST", url: "/pks/add", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams({ keytext: publicKey }).toString() });
    assert.equal(sent.statusCode, 200, sent.body);
    const batch = await recertifyBatch(desk);
    assert.deepEqual(batch.payload.items.map((item) => item.requestId), [third]);
    assert.equal((await importResult(desk, await signBatch(batch.file, newMaster))).statusCode, 200);
  });

  it("a certification without a sealed revocation is revoked by a revoke item in a batch of its own master; the other master's sealed one is published with it", async () => {
    // As a row from before sealed revocations were kept: the old master's certification of `second` has none.
    const [old] = await certificationsOf(t, second);
    await t.app.db.certification.update({ where: { id: old!.id }, data: { sealedRevocation: null } });
    for (const [index, reviewer] of desk.reviewers.entries()) {
      const page = await reviewer.get(`/admin/requests/${second}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec(page.body)?.[1];
      const response =
        index === 0 || !revocationId
          ? await reviewer.postForm(`/admin/requests/${second}/revocations`, { version, reasonCode: "key_compromised", reasonText: "Reported stolen" }, `/admin/requests/${second}`)
          : await reviewer.postForm(`/admin/requests/${second}/revocations/${revocationId}/approve`, { version }, `/admin/requests/${second}`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    }
    assert.equal((await t.app.db.revocation.findFirstOrThrow({ where: { requestId: second } })).state, "queued");
    const batch = await exportBatch(desk);
    assert.equal(batch.payload.master, fp(oldMaster));
    const [item] = batch.payload.items;
    assert.ok(item?.kind === "revoke");
    assert.deepEqual(item.userIds, ["Dev <two@example.org>"]);
    assert.equal(item.certifications.length, 1, "only the batch's master's certification, not the new master's");
    assert.equal((await importResult(desk, await signBatch(batch.file, oldMaster))).statusCode, 200);
    const rows = await certificationsOf(t, second);
    assert.deepEqual(rows.map((row) => [row.masterFingerprint, row.revokedAt !== null]), [[fp(oldMaster), true], [fp(newMaster), true]]);
    assert.deepEqual(rows[1]!.revocation, rows[1]!.sealedRevocation);
    assert.notDeepEqual(rows[0]!.revocation, null);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: second } })).state, "revoked");
  });

  it("a revocation publishes the sealed revocation of each master's certification", async () => {
    await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: "1" }, update: { value: "1" } });
    const page = await desk.reviewers[0].get(`/admin/requests/${first}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
    const response = await desk.reviewers[0].postForm(`/admin/requests/${first}/revocations`, { version, reasonCode: "key_compromised", reasonText: "Reported stolen" }, `/admin/requests/${first}`);
    assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    const rows = await certificationsOf(t, first);
    assert.equal(rows.length, 2);
    for (const row of rows) {
      assert.ok(row.revokedAt, `the certification by ${row.masterFingerprint} is revoked`);
      assert.deepEqual(row.revocation, row.sealedRevocation);
    }
    await t.app.db.setting.update({ where: { key: "approvalsRequired" }, data: { value: "2" } });
  });

  it("retires the old master after confirmation: the new one becomes current, the old one stays listed as retired", async () => {
    const unconfirmed = await desk.admin.postForm("/admin/settings/retire-master", {}, "/admin/settings");
    assert.equal(unconfirmed.statusCode, 400);
    assert.match(unconfirmed.body, /Tick the box to confirm/);
    assert.equal((await t.app.db.setting.findUniqueOrThrow({ where: { key: "masterFingerprint" } })).value, fp(oldMaster));

    // The owner-revoked key was not re-certified, so the page names it and the retirement needs the acknowledgement.
    const listed = await desk.admin.get("/admin/settings");
    assert.match(listed.body, /1 certification\(s\) are made by the old master only/);
    assert.match(listed.body, /owner-revoked@example.org/);
    const retired = await desk.admin.postForm("/admin/settings/retire-master", { confirm: "yes", acknowledge: "yes" }, "/admin/settings");
    assert.equal(retired.statusCode, 303, retired.body.slice(0, 800));
    const page = await desk.admin.get("/admin/settings");
    assert.match(page.body, new RegExp(`${formatFingerprint(fp(newMaster))}</td><td>current`));
    assert.match(page.body, new RegExp(`${formatFingerprint(fp(oldMaster))}</td><td>retired`));
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "master.retire" } });
    assert.deepEqual(JSON.parse(event.data), { retired: fp(oldMaster), current: fp(newMaster), leftWithOldMasterOnly: 1 });

    await queuedRequest(desk, "four@example.org", "Dev");
    const batch = await exportBatch(desk);
    assert.equal(batch.payload.master, fp(newMaster));
    assert.equal((await importResult(desk, await signBatch(batch.file, newMaster))).statusCode, 200);
  });

  it("a certification by the retired master without a sealed revocation is revoked in a batch for the retired master", async () => {
    const [old] = await certificationsOf(t, thirdRequest);
    assert.equal(old!.masterFingerprint, fp(oldMaster));
    await t.app.db.certification.update({ where: { id: old!.id }, data: { sealedRevocation: null } });
    for (const [index, reviewer] of desk.reviewers.entries()) {
      const page = await reviewer.get(`/admin/requests/${thirdRequest}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec(page.body)?.[1];
      const response =
        index === 0 || !revocationId
          ? await reviewer.postForm(`/admin/requests/${thirdRequest}/revocations`, { version, reasonCode: "key_compromised", reasonText: "Reported stolen" }, `/admin/requests/${thirdRequest}`)
          : await reviewer.postForm(`/admin/requests/${thirdRequest}/revocations/${revocationId}/approve`, { version }, `/admin/requests/${thirdRequest}`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    }
    // The current master cannot revoke it: the normal export has nothing, and the queue offers a batch for the retired master.
    const normal = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    assert.equal(normal.statusCode, 409);
    const queue = await desk.officer.get("/admin/signing");
    assert.match(queue.body, /Revocations for the retired master/);
    assert.match(queue.body, /Nothing is waiting for signing/, "the normal batch has nothing to sign");
    const exported = await desk.officer.postForm("/admin/signing/master-revocations", { master: fp(oldMaster) }, "/admin/signing");
    assert.equal(exported.statusCode, 303, exported.body.slice(0, 800));
    const number = Number(/batches\/(\d+)/.exec(String(exported.headers.location))?.[1]);
    const file = new Uint8Array((await desk.officer.get(`/admin/signing/batches/${number}/file`)).rawPayload);
    const payload = parseBatchPayload(new Uint8Array(Buffer.from(parseEnvelope(file).payload, "base64")));
    assert.equal(payload.master, fp(oldMaster));
    assert.deepEqual(payload.items.map((item) => item.kind), ["revoke"]);
    const forCurrent = await desk.officer.postForm("/admin/signing/master-revocations", { master: fp(newMaster) }, "/admin/signing");
    assert.equal(forCurrent.statusCode, 409);
    assert.equal((await importResult(desk, await signBatch(file, oldMaster))).statusCode, 200);
    const rows = await certificationsOf(t, thirdRequest);
    assert.deepEqual(rows.map((row) => row.revokedAt !== null), [true, true]);
    assert.deepEqual(rows[1]!.revocation, rows[1]!.sealedRevocation);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: thirdRequest } })).state, "revoked");
  });

  it("retiring before re-certifying lists what stays with the old master only and needs an explicit acknowledgement", async () => {
    const third = await makeMaster();
    assert.equal((await registerNewMaster(desk, third)).statusCode, 303);
    assert.equal((await registerNewMaster(desk, oldMaster)).statusCode, 400, "a retired master cannot come back");
    const page = await desk.admin.get("/admin/settings");
    assert.match(page.body, /certification\(s\) are made by the old master only/);
    assert.match(page.body, /Dev &lt;four@example.org&gt;/);
    const refused = await desk.admin.postForm("/admin/settings/retire-master", { confirm: "yes" }, "/admin/settings");
    assert.equal(refused.statusCode, 409);
    assert.match(refused.body, /still made by the old master only/);
    // A batch for the master being retired is still open: refused until it is imported.
    await queuedRequest(desk, "five@example.org", "Dev");
    const open = await exportBatch(desk);
    assert.equal(open.payload.master, fp(newMaster));
    const waiting = await desk.admin.postForm("/admin/settings/retire-master", { confirm: "yes", acknowledge: "yes" }, "/admin/settings");
    assert.equal(waiting.statusCode, 409);
    assert.match(waiting.body, /A batch for the old master is still open/);
    assert.equal((await importResult(desk, await signBatch(open.file, newMaster))).statusCode, 200);
    const done = await desk.admin.postForm("/admin/settings/retire-master", { confirm: "yes", acknowledge: "yes" }, "/admin/settings");
    assert.equal(done.statusCode, 303);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "master.retire" }, orderBy: { seq: "desc" } });
    assert.ok((JSON.parse(event.data) as { leftWithOldMasterOnly: number }).leftWithOldMasterOnly > 0);
  });
});

describe("the current master during a rotation", () => {
  it("cannot be swapped out under the rotation, and a retired master never comes back as current", async () => {
    const t = await createTestApp();
    try {
      const desk = await signingDesk(t);
      const oldMaster = desk.master;
      const newMaster = await makeMaster();
      const replace = (key: openpgp.PrivateKey) => desk.admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: key.toPublic().armor() }], "/admin/settings");
      assert.equal((await registerNewMaster(desk, newMaster)).statusCode, 303);
      const during = await replace(await makeMaster());
      assert.equal(during.statusCode, 409);
      assert.match(during.body, /A master rotation is under way/);
      assert.equal((await t.app.settings.read()).masterFingerprint, fp(oldMaster), "the current master is unchanged");
      const retired = await desk.admin.postForm("/admin/settings/retire-master", { confirm: "yes", acknowledge: "yes" }, "/admin/settings");
      assert.equal(retired.statusCode, 303, retired.body.slice(0, 500));
      const back = await replace(oldMaster);
      assert.equal(back.statusCode, 409);
      assert.match(back.body, /retired master/);
      assert.equal((await t.app.settings.read()).masterFingerprint, fp(newMaster));
    } finally {
      await t.close();
    }
  });
});
