/**
 * What a master rotation's re-certification batch leaves out beyond lapsing certifications: a
 * key whose certification was revoked for good on another request of the same key, and user IDs
 * the key's owner revoked in an update after they were certified. The offline signer is played
 * in-process (test/helpers/signing-queue.ts).
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submissionParts } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { exportBatch, importResult, makeMaster, queuedRequest, recertifyBatch, registerNewMaster, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

describe("the re-certification batch leaves out what may not be certified again", () => {
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

  /** Exports the queue for the current master, signs it with it and imports the result. */
  async function certifyQueued(): Promise<void> {
    const batch = await exportBatch(desk);
    const imported = await importResult(desk, await signBatch(batch.file, oldMaster));
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 800));
  }

  /** A request for both user IDs of `key`, the second address confirmed on the applicant's account, approved by both reviewers. */
  async function queuedForTwo(key: Awaited<ReturnType<typeof makeTestKey>>, addresses: [string, string], userIds: [string, string]): Promise<string> {
    const applicant = await signInAs(t, addresses[0]);
    const { id: applicantId } = await t.app.db.applicant.findUniqueOrThrow({ where: { email: addresses[0] } });
    await t.app.db.emailAddress.create({ data: { id: randomUUID(), applicantId, address: addresses[1], confirmedAt: t.clock.now } });
    const parts = [...(await submissionParts(key, userIds[0])), { name: "certifyUserIds", value: userIds[1] }];
    const submitted = await applicant.postMultipart("/requests", parts, "/requests/new");
    assert.equal(submitted.statusCode, 303, submitted.body.slice(0, 500));
    const id = String(submitted.headers.location).split("/").pop() ?? "";
    for (const reviewer of desk.reviewers) {
      const page = await reviewer.get(`/admin/requests/${id}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const approved = await reviewer.postForm(`/admin/requests/${id}/approve`, { version }, `/admin/requests/${id}`);
      assert.equal(approved.statusCode, 303, approved.body.slice(0, 500));
    }
    return id;
  }

  let compromisedA = "";
  it("leaves out a key whose certification was revoked as compromised on another request of the same key", async () => {
    const address = "twice@example.org";
    const first = await queuedRequest(desk, address, "Dev");
    await certifyQueued();
    // A certified request is closed, so the same key may come back in a second request.
    const second = await queuedRequest(desk, address, "Dev", first.key);
    const control = await queuedRequest(desk, "control@example.org", "Dev");
    await certifyQueued();
    compromisedA = first.id;

    await t.app.db.setting.update({ where: { key: "approvalsRequired" }, data: { value: "1" } });
    const page = await desk.reviewers[0].get(`/admin/requests/${second.id}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
    const revoked = await desk.reviewers[0].postForm(`/admin/requests/${second.id}/revocations`, { version, reasonCode: "key_compromised", reasonText: "Reported stolen" }, `/admin/requests/${second.id}`);
    assert.equal(revoked.statusCode, 303, revoked.body.slice(0, 800));
    await t.app.db.setting.update({ where: { key: "approvalsRequired" }, data: { value: "2" } });
    assert.equal((await t.app.db.revocation.findFirstOrThrow({ where: { requestId: second.id } })).state, "applied");
    // The first request's certification is still live: only the revoked request's were revoked.
    assert.equal(await t.app.db.certification.count({ where: { requestId: first.id, revokedAt: null } }), 1);

    assert.equal((await registerNewMaster(desk, newMaster)).statusCode, 303);
    const batch = await recertifyBatch(desk);
    assert.deepEqual(
      batch.payload.items.map((item) => item.requestId),
      [control.id],
      "the compromised key is not certified again by the new master",
    );
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "batch.export" }, orderBy: { seq: "desc" } });
    assert.equal((JSON.parse(event.data) as { skipped: number }).skipped, 1);
    assert.equal((await importResult(desk, await signBatch(batch.file, newMaster))).statusCode, 200);
  });

  it("certifies only the user IDs still valid on the published key after the owner revoked one", async () => {
    const addresses: [string, string] = ["keep@example.org", "drop@example.org"];
    const userIds: [string, string] = [`Dev <${addresses[0]}>`, `Dev <${addresses[1]}>`];
    const key = await makeTestKey(addresses.map((email) => ({ name: "Dev", email })));
    const requestId = await queuedForTwo(key, addresses, userIds);
    await certifyQueued();
    assert.deepEqual((await t.app.db.certification.findMany({ where: { requestId }, orderBy: { userId: "asc" } })).map((row) => row.userId), [userIds[1], userIds[0]]);

    // The owner revokes the second user ID and sends the key to the portal, as `gpg --send-keys` does.
    const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateArmored });
    const index = privateKey.users.findIndex((user) => user.userID?.email === addresses[1]);
    privateKey.users[index] = await privateKey.users[index]!.revoke(privateKey.keyPacket as openpgp.SecretKeyPacket, { flag: openpgp.enums.reasonForRevocation.userIDInvalid }, t.clock.now);
    const sent = await t.app.inject({ method: "POST", url: "/pks/add", headers: FORM, payload: new URLSearchParams({ keytext: privateKey.toPublic().armor() }).toString() });
    assert.equal(sent.statusCode, 200, sent.body);
    assert.match(sent.body, /You revoked the user ID/);

    const batch = await recertifyBatch(desk);
    assert.equal(batch.payload.items.length, 1);
    const [item] = batch.payload.items;
    assert.ok(item?.kind === "recertify");
    assert.equal(item.requestId, requestId);
    assert.deepEqual(item.userIds, [userIds[0]]);
    assert.equal((await importResult(desk, await signBatch(batch.file, newMaster))).statusCode, 200);
  });

  it("says how many certifications it left out, and why, once nothing else is left", async () => {
    const nothing = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
    assert.equal(nothing.statusCode, 409);
    const text = nothing.body.replace(/&#x27;/g, "'").replace(/\s+/g, " ");
    assert.match(text, /2 certification\(s\) were left out: /);
    assert.match(text, /their user ID was revoked by the key's owner/);
    assert.match(text, /compromised or signed a malicious module/);
    // Both stay with the old master only: the compromised key's first request, and the revoked user ID.
    assert.equal(await t.app.db.certification.count({ where: { requestId: compromisedA, masterFingerprint: newMaster.getFingerprint().toUpperCase() } }), 0);
  });
});
