/**
 * A master rotation end to end, as docs/master-rotation.md describes the ceremony: certify
 * with the old master through the real `keysign sign`, register the new master, re-certify
 * with `keysign sign` on a signing machine pinned to the new master, import, and check in
 * fresh GnuPG homes that an install trusting ONLY the new master, and one trusting ONLY the
 * old master, both see the developer's user ID with full validity. Then a revocation
 * publishes one revocation per master and both installs lose validity.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { withGpgHome } from "../helpers/gpg.ts";
import { makeMasterKey, type SigningKey } from "../helpers/transfer.ts";
import { exportBatch, importResult, queuedRequest, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const PASSPHRASE = "correct horse battery staple";

/** An install: a fresh home with `master` alone at ultimate ownertrust, and the published key. */
async function install(master: SigningKey, published: string) {
  return withGpgHome(async (gpg) => {
    await gpg.ok(["--import"], { input: master.privateKey.toPublic().armor() });
    await gpg.ok(["--import-ownertrust"], { input: `${master.fingerprint}:6:\n` });
    await gpg.ok(["--import"], { input: published });
    return (await gpg.ok(["--with-colons", "--check-sigs"])).toString("utf8");
  });
}

function uidValidity(listing: string, userId: string): string | undefined {
  return listing.split("\n").find((line) => line.startsWith("uid:") && line.split(":")[9] === userId)?.split(":")[1];
}

/** Good (`!`) signatures of `record` type by the master with this fingerprint on other keys' user IDs. */
function goodBy(listing: string, fingerprint: string, record: "sig" | "rev"): number {
  const signatureClass = record === "sig" ? "10x" : "30x";
  return listing.split("\n").filter((line) => {
    const fields = line.split(":");
    return line.startsWith(`${record}:!`) && fields[4] === fingerprint.slice(-16) && (fields[10] ?? "").startsWith(signatureClass);
  }).length;
}

describe("master rotation through the real signer, checked by GnuPG", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let work: string;
  let oldMaster: SigningKey;
  let newMaster: SigningKey;
  before(async () => {
    // The signer runs on the real clock; the portal's clock follows it.
    t = await createTestApp({}, new Date());
    oldMaster = await makeMasterKey({ passphrase: PASSPHRASE, date: new Date(Date.now() - 86_400_000) });
    newMaster = await makeMasterKey({ passphrase: PASSPHRASE, date: new Date(Date.now() - 86_400_000) });
    desk = await signingDesk(t, oldMaster.privateKey);
    work = await mkdtemp(path.join(tmpdir(), "keysign-rotation-"));
    await writeFile(path.join(work, "passphrase"), `${PASSPHRASE}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "queue-key.asc"), (await desk.officer.get("/admin/signing/queue-key.asc")).body);
    for (const [name, master] of [["old", oldMaster], ["new", newMaster]] as const) {
      await writeFile(path.join(work, `${name}-master.asc`), master.secretArmored, { mode: 0o600 });
      const init = await runKeysign(["init", "--queue-key", path.join(work, "queue-key.asc"), "--master-key", path.join(work, `${name}-master.asc`), "--home", path.join(work, `signer-${name}`)], t.dataDir);
      assert.equal(init.code, 0, init.stderr);
    }
  });
  after(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  async function sign(file: Uint8Array, name: "old" | "new", number: number) {
    const batchFile = path.join(work, `batch-${number}.json`);
    await writeFile(batchFile, file);
    const out = path.join(work, `result-${number}.json`);
    const signed = await runKeysign(["sign", batchFile, "--yes", "--out", out, "--passphrase-file", path.join(work, "passphrase"), "--home", path.join(work, `signer-${name}`)], t.dataDir);
    return { signed, batchFile, result: new Uint8Array(await readFile(out).catch(() => Buffer.alloc(0))) };
  }

  it("rotates: installs trusting only the new master, or only the old one, see full validity; a revocation takes both away", async (context) => {
    t.clock.now = new Date();
    const { id } = await queuedRequest(desk, "dev@example.org", "Dev");
    const userId = "Dev <dev@example.org>";
    const first = await exportBatch(desk);
    const certified = await sign(first.file, "old", first.number);
    assert.equal(certified.signed.code, 0, certified.signed.stderr);
    assert.equal((await importResult(desk, certified.result)).statusCode, 200);

    const registered = await desk.admin.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: newMaster.privateKey.toPublic().armor() }], "/admin/settings");
    assert.equal(registered.statusCode, 303);
    t.clock.now = new Date();
    const exported = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
    assert.equal(exported.statusCode, 303, exported.body.slice(0, 800));
    const number = Number(/batches\/(\d+)/.exec(String(exported.headers.location))?.[1]);
    const batch = new Uint8Array((await desk.officer.get(`/admin/signing/batches/${number}/file`)).rawPayload);

    // The old master's signing machine refuses the batch: it is for the new master.
    const wrong = await sign(batch, "old", number);
    assert.notEqual(wrong.signed.code, 0);
    assert.match(wrong.signed.stderr + wrong.signed.stdout, /is for master key .* this signer is pinned to/);

    const inspected = await runKeysign(["inspect", path.join(work, `batch-${number}.json`), "--home", path.join(work, "signer-new")], t.dataDir);
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.match(inspected.stdout, /1 to re-certify with this master/);
    assert.match(inspected.stdout, /recertify request/);

    const recertified = await sign(batch, "new", number);
    assert.equal(recertified.signed.code, 0, recertified.signed.stderr);
    assert.match(recertified.signed.stdout, /1 certified, 0 revoked, 0 declined/);
    const imported = await importResult(desk, recertified.result);
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 800));

    const published = (await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${first.payload.items[0]!.fingerprint}` })).body;
    const onlyNew = await install(newMaster, published);
    assert.equal(uidValidity(onlyNew, userId), "f", onlyNew);
    assert.equal(goodBy(onlyNew, newMaster.fingerprint, "sig"), 1);
    const onlyOld = await install(oldMaster, published);
    assert.equal(uidValidity(onlyOld, userId), "f", onlyOld);
    assert.equal(goodBy(onlyOld, oldMaster.fingerprint, "sig"), 1);
    // What each install's GnuPG printed for the user ID, for people reading the test's output.
    const uidLine = (listing: string) => listing.split("\n").find((line) => line.startsWith("uid:") && line.split(":")[9] === userId) ?? "";
    context.diagnostic(`only the new master trusted: ${uidLine(onlyNew)}`);
    context.diagnostic(`only the old master trusted: ${uidLine(onlyOld)}`);

    // Revocation: both sealed revocations are published, one by each master.
    for (const [index, reviewer] of desk.reviewers.entries()) {
      const page = await reviewer.get(`/admin/requests/${id}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec(page.body)?.[1];
      const response =
        index === 0 || !revocationId
          ? await reviewer.postForm(`/admin/requests/${id}/revocations`, { version, reasonCode: "key_compromised", reasonText: "Reported stolen" }, `/admin/requests/${id}`)
          : await reviewer.postForm(`/admin/requests/${id}/revocations/${revocationId}/approve`, { version }, `/admin/requests/${id}`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    }
    const revoked = (await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${first.payload.items[0]!.fingerprint}` })).body;
    for (const master of [newMaster, oldMaster]) {
      const listing = await install(master, revoked);
      assert.equal(goodBy(listing, master.fingerprint, "rev"), 1, listing);
      assert.notEqual(uidValidity(listing, userId), "f", listing);
      context.diagnostic(`after the revocation, only ${master === newMaster ? "the new" : "the old"} master trusted: ${uidLine(listing)}`);
    }

    // `keysign freepbx sync` on an install that trusts one master: it checks that master's revocation and imports it.
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const portal = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/`;
    const publicationKey = path.join(work, "publication-key.asc");
    await writeFile(publicationKey, await (await fetch(new URL("status/v1/publication-key.asc", portal))).text());
    for (const master of [newMaster, oldMaster]) {
      await withGpgHome(async (gpg) => {
        await gpg.ok(["--import"], { input: master.privateKey.toPublic().armor() });
        await gpg.ok(["--import-ownertrust"], { input: `${master.fingerprint}:6:\n` });
        const synced = await runKeysign(["freepbx", "sync", "--from", portal, "--publication-key", publicationKey, "--gpg-home", gpg.dir], work);
        assert.equal(synced.code, 0, synced.stderr);
        const listing = (await gpg.ok(["--with-colons", "--check-sigs"])).toString("utf8");
        assert.equal(goodBy(listing, master.fingerprint, "rev"), 1, listing);
        assert.notEqual(uidValidity(listing, userId), "f", listing);
      });
    }
  });
});
