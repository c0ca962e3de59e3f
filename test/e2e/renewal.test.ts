/**
 * Renewal end to end: a key certified a month ago is renewed by its owner in one action,
 * approved by one reviewer (the renewal quorum), signed by the real `keysign sign`, imported,
 * and a fresh GnuPG home that trusts the master ultimately sees the new certification with a
 * later expiry, the old one kept, and the key valid.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { withGpgHome } from "../helpers/gpg.ts";
import { signInAs } from "../helpers/session.ts";
import { makeMasterKey, type SigningKey } from "../helpers/transfer.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { submitRequest } from "../helpers/requests.ts";
import { exportBatch, importResult, laterBy, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const PASSPHRASE = "correct horse battery staple";
const DAY_MS = 86_400_000;
const ADDRESS = "renew@example.org";
const USER_ID = `Dev <${ADDRESS}>`;

/** The master's certification records (class 10x) of the user ID, as `gpg --with-colons` prints them: validity flag and expiry (seconds). */
function masterCertifications(listing: string, masterKeyId: string): Array<{ check: string; created: number; expires: number }> {
  return listing
    .split("\n")
    .filter((line) => line.startsWith("sig:") && line.split(":")[4] === masterKeyId && (line.split(":")[10] ?? "").startsWith("10x"))
    .map((line) => {
      const fields = line.split(":");
      return { check: fields[1] ?? "", created: Number(fields[5]), expires: Number(fields[6]) };
    });
}

function uidValidity(listing: string, userId: string): string | undefined {
  return listing.split("\n").find((line) => line.startsWith("uid:") && line.split(":")[9] === userId)?.split(":")[1];
}

describe("renewal through the signer, seen by GnuPG", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let master: SigningKey;
  let work: string;
  let home: string;
  before(async () => {
    t = await createTestApp({}, new Date());
    master = await makeMasterKey({ passphrase: PASSPHRASE, date: new Date("2026-01-01T00:00:00Z") });
    desk = await signingDesk(t, master.privateKey);
    work = await mkdtemp(path.join(tmpdir(), "keysign-renewal-"));
    await writeFile(path.join(work, "passphrase"), `${PASSPHRASE}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "queue-key.asc"), (await desk.officer.get("/admin/signing/queue-key.asc")).body);
    await writeFile(path.join(work, "master-secret.asc"), master.secretArmored, { mode: 0o600 });
    home = path.join(work, "signer");
    const init = await runKeysign(["init", "--queue-key", path.join(work, "queue-key.asc"), "--master-key", path.join(work, "master-secret.asc"), "--home", home], t.dataDir);
    assert.equal(init.code, 0, init.stderr);
  });
  after(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  it("renews in one action: quorum of one, a renewal item, a later expiry, the old certification superseded and still published", async (context) => {
    // The first certification, a month ago (made by the fixture: the portal's queue key is younger than that).
    const { id } = await submitRequest(t, ADDRESS, "Dev");
    t.clock.now = new Date(Date.now() - 30 * DAY_MS);
    await certifyRequest(t, id, { master: master.privateKey });

    // Today: the owner renews from the request page.
    t.clock.now = new Date();
    await laterBy(desk, 0);
    const owner = await signInAs(t, ADDRESS);
    const page = await owner.get(`/requests/${id}`);
    assert.match(page.body, new RegExp(`href="/requests/${id}/renew"`));
    const confirm = await owner.get(`/requests/${id}/renew`);
    assert.equal(confirm.statusCode, 200);
    assert.match(confirm.body, /Dev &lt;renew@example.org&gt;/);
    assert.doesNotMatch(confirm.body, /Sign the current agreement/);
    const renewed = await owner.postMultipart(`/requests/${id}/renew`, [{ name: "confirm", value: "yes" }], `/requests/${id}/renew`);
    assert.equal(renewed.statusCode, 303, renewed.body.slice(0, 800));
    const renewalId = String(renewed.headers.location).split("/").pop() ?? "";
    const renewal = await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId }, include: { keys: true, agreements: true } });
    assert.equal(renewal.renewsRequestId, id);
    assert.equal(renewal.state, "submitted");
    assert.deepEqual(JSON.parse(renewal.keys[0]?.certifyUserIds ?? "[]"), [USER_ID]);
    // The same click again leads to the same renewal; nothing new is made.
    const again = await owner.postMultipart(`/requests/${id}/renew`, [{ name: "confirm", value: "yes" }], `/requests/${id}/renew`);
    assert.equal(again.headers.location, `/requests/${renewalId}`);
    assert.equal(await t.app.db.request.count({ where: { renewsRequestId: id } }), 1);

    // Reviewers see a renewal with the key's history; one approval is the renewal quorum (the usual one is two).
    const [reviewer] = desk.reviewers;
    const staffPage = await reviewer.get(`/admin/requests/${renewalId}`);
    assert.match(staffPage.body, /Renewal of/);
    assert.match(staffPage.body, /Earlier certifications of this key/);
    const version = /name="version" value="(\d+)"/.exec(staffPage.body)?.[1] ?? "";
    const approved = await reviewer.postForm(`/admin/requests/${renewalId}/approve`, { version }, `/admin/requests/${renewalId}`);
    assert.equal(approved.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId } })).state, "queued");

    // The batch carries a renewal item; the real signer shows it and signs it.
    const batch = await exportBatch(desk);
    const [item] = batch.payload.items;
    assert.ok(item?.kind === "certify" && item.renews?.requestId === id, "the item names the renewed request");
    const batchFile = path.join(work, "batch.json");
    await writeFile(batchFile, batch.file);
    const inspected = await runKeysign(["inspect", batchFile, "--home", home], t.dataDir);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /Renewal of\s+request /);
    const out = path.join(work, "result.json");
    const signed = await runKeysign(["sign", batchFile, "--yes", "--out", out, "--passphrase-file", path.join(work, "passphrase"), "--home", home], t.dataDir);
    assert.equal(signed.code, 0, signed.stderr);
    const imported = await importResult(desk, new Uint8Array(await readFile(out)));
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 1500));

    // The old certification is superseded, not revoked; the owner gets the renewed key with renewal wording.
    const old = await t.app.db.certification.findMany({ where: { requestId: id } });
    assert.equal(old.length, 1);
    assert.ok(old[0]?.supersededAt, "the old certification is marked superseded");
    assert.equal(old[0]?.revokedAt, null);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: renewalId } })).state, "certified");
    const mail = await t.app.db.outboxEmail.findMany({ where: { template: "request-certified" }, orderBy: { createdAt: "desc" }, take: 1 });
    assert.match(mail[0]?.text ?? "", /is renewed/);
    const oldPage = await owner.get(`/requests/${id}`);
    assert.match(oldPage.body, new RegExp(`This certification was renewed: the new certification is on <a href="/requests/${renewalId}">`));
    assert.doesNotMatch(oldPage.body, new RegExp(`href="/requests/${id}/renew"`));

    // What installs fetch: both certifications published; GnuPG sees the later expiry and full validity.
    const fingerprint = renewal.keys[0]?.fingerprint ?? "";
    const published = await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&options=mr&search=0x${fingerprint}` });
    assert.equal(published.statusCode, 200);
    await withGpgHome(async (gpg) => {
      await gpg.ok(["--import"], { input: master.privateKey.toPublic().armor() });
      await gpg.ok(["--import-ownertrust"], { input: `${master.fingerprint}:6:\n` });
      await gpg.ok(["--import"], { input: published.body });
      const listing = (await gpg.ok(["--with-colons", "--check-sigs", fingerprint])).toString("utf8");
      const sigs = masterCertifications(listing, master.fingerprint.slice(-16));
      assert.equal(sigs.length, 2, listing);
      assert.ok(sigs.every((sig) => sig.check === "!"), "both certifications verify");
      const [older, newer] = [...sigs].sort((a, b) => a.created - b.created);
      assert.ok(older && newer && newer.expires > older.expires + 20 * 86_400, `the new certification expires later (${older?.expires} then ${newer?.expires})`);
      assert.equal(uidValidity(listing, USER_ID), "f");
      // What GnuPG printed, for people reading the test's output.
      const shown = listing.split("\n").filter((line) => line.startsWith("uid:") || (line.startsWith("sig:") && line.split(":")[4] === master.fingerprint.slice(-16)));
      for (const line of shown) context.diagnostic(`gpg --with-colons --check-sigs: ${line}`);
      const listSigs = (await gpg.ok(["--list-sigs", fingerprint])).toString("utf8");
      assert.match(listSigs, /Keysign master <master@example\.org>/);
    });
  });
});
