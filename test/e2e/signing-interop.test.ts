/**
 * The whole ceremony with GnuPG as the relying party: export through the portal, sign with the
 * real `keysign` command (software key, then the officer's GnuPG keyring), import, and check in
 * a fresh GnuPG home that trusts the master ultimately — as a FreePBX install does — that the
 * certified user ID has full validity, and that after a revocation it no longer has.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { makeMasterKey } from "../helpers/transfer.ts";
import { findMasterSignature } from "../../src/cli/gpg-signer.ts";
import { scanPackets } from "../../src/core/key-policy/packets.ts";
import { parseSignature } from "../../src/core/key-policy/structure.ts";
import { readSignatureLayout } from "../../src/core/key-policy/subpackets.ts";
import { makeRevocation, userIdBytes } from "../../src/core/transfer/certification.ts";
import { sealedRevocationText } from "../../src/core/transfer/revocation-text.ts";
import { b64, exportBatch, importResult, queuedRequest, setMaster, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

const PASSPHRASE = "correct horse battery staple";

/** What a FreePBX install sees: a fresh home, the master with ultimate ownertrust, the published key. */
async function relyingParty(masterPublic: string, masterFingerprint: string, certifiedKey: string) {
  return withGpgHome(async (gpg) => {
    await gpg.ok(["--import"], { input: masterPublic });
    await gpg.ok(["--import-ownertrust"], { input: `${masterFingerprint}:6:\n` });
    await gpg.ok(["--import"], { input: certifiedKey });
    const listing = (await gpg.ok(["--with-colons", "--check-sigs"])).toString("utf8");
    const checkSigs = (await gpg.ok(["--check-sigs"])).toString("utf8");
    return { listing, checkSigs };
  });
}

function uidValidity(listing: string, userId: string): string | undefined {
  return listing.split("\n").find((line) => line.startsWith("uid:") && line.split(":")[9] === userId)?.split(":")[1];
}

/** The master's certifications (class 10x) or certification revocations (30x) of other keys' user IDs. */
function masterSigs(listing: string, masterKeyId: string, record: "sig" | "rev"): string[] {
  const signatureClass = record === "sig" ? "10x" : "30x";
  return listing.split("\n").filter((line) => line.startsWith(`${record}:`) && line.split(":")[4] === masterKeyId && (line.split(":")[10] ?? "").startsWith(signatureClass));
}

describe("GnuPG interoperability of the signing ceremony", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let work: string;
  before(async () => {
    // The signer runs with the real clock; the portal's clock follows it.
    t = await createTestApp({}, new Date());
    desk = await signingDesk(t);
    work = await mkdtemp(path.join(tmpdir(), "keysign-ceremony-"));
    await writeFile(path.join(work, "passphrase"), `${PASSPHRASE}\n`, { mode: 0o600 });
    await writeFile(path.join(work, "queue-key.asc"), (await desk.officer.get("/admin/signing/queue-key.asc")).body);
  });
  after(async () => {
    await t.close();
    await rm(work, { recursive: true, force: true });
  });

  async function ceremony(signArgs: string[], env: Record<string, string>, address: string) {
    t.clock.now = new Date();
    const { id, applicant } = await queuedRequest(desk, address, "Dev");
    const batch = await exportBatch(desk);
    const batchFile = path.join(work, `batch-${batch.number}.json`);
    await writeFile(batchFile, batch.file);
    const out = path.join(work, `result-${batch.number}.json`);
    const signed = await runKeysign(["sign", batchFile, "--yes", "--out", out, "--passphrase-file", path.join(work, "passphrase"), ...signArgs], t.dataDir, env);
    assert.equal(signed.code, 0, signed.stderr);
    assert.doesNotMatch(signed.stdout + signed.stderr, new RegExp(PASSPHRASE));
    const imported = await importResult(desk, new Uint8Array(await readFile(out)));
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 1500));
    assert.match(imported.body, /1 certified/);
    const download = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(download.statusCode, 200);
    return { id, certified: download.body, userId: `Dev <${address}>`, applicant };
  }

  async function revoke(id: string) {
    for (const [index, reviewer] of desk.reviewers.entries()) {
      const page = await reviewer.get(`/admin/requests/${id}`);
      const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec(page.body)?.[1];
      const response = index === 0 || !revocationId
        ? await reviewer.postForm(`/admin/requests/${id}/revocations`, { version, reasonCode: "key_compromised", reasonText: "The developer reported the key stolen" }, `/admin/requests/${id}`)
        : await reviewer.postForm(`/admin/requests/${id}/revocations/${revocationId}/approve`, { version }, `/admin/requests/${id}`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 1500));
    }
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
  }

  it("software master key: full validity after import, and the sealed revocation takes it away", async () => {
    const { privateKey, secretArmored } = await makeMasterKey({ passphrase: PASSPHRASE });
    await setMaster(desk, privateKey);
    const masterFile = path.join(work, "master-secret.asc");
    await writeFile(masterFile, secretArmored, { mode: 0o600 });
    const home = path.join(work, "signer-software");
    const init = await runKeysign(["init", "--queue-key", path.join(work, "queue-key.asc"), "--master-key", masterFile, "--home", home], t.dataDir);
    assert.equal(init.code, 0, init.stderr);

    const { id, certified, userId } = await ceremony(["--home", home], {}, "soft@example.org");
    const fingerprint = privateKey.getFingerprint().toUpperCase();
    const keyId = fingerprint.slice(-16);
    const masterPublic = privateKey.toPublic().armor();
    const good = await relyingParty(masterPublic, fingerprint, certified);
    assert.equal(uidValidity(good.listing, userId), "f");
    assert.equal(masterSigs(good.listing, keyId, "sig").filter((line) => line.split(":")[1] === "!").length, 1);
    assert.match(good.checkSigs, /sig!\s+\S*\s+[0-9A-F]{16} \S+\s+Keysign master <master@example.org>/);

    await revoke(id);
    const published = await desk.officer.get(`/admin/requests/${id}/certified-key`);
    const revoked = await relyingParty(masterPublic, fingerprint, published.body);
    assert.equal(masterSigs(revoked.listing, keyId, "rev").filter((line) => line.split(":")[1] === "!").length, 1);
    assert.notEqual(uidValidity(revoked.listing, userId), "f");
  });

  it("GnuPG keyring master (--gpg): the same full validity and revocation", async () => {
    await withGpgHome(async (officer: GpgHome) => {
      await writeFile(path.join(officer.dir, "pass"), PASSPHRASE);
      await officer.ok(["--passphrase-file", path.join(officer.dir, "pass"), "--quick-gen-key", "GPG Master <gpg-master@keysign.example>", "ed25519", "sign,cert", "never"]);
      const listing = (await officer.ok(["--with-colons", "--list-keys"])).toString("utf8");
      const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1] ?? "";
      const masterPublic = (await officer.ok(["--armor", "--export", fingerprint])).toString("utf8");
      const master = await openpgp.readKey({ armoredKey: masterPublic });
      const upload = await desk.admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: master.armor() }], "/admin/settings");
      assert.equal(upload.statusCode, 303);

      const home = path.join(work, "signer-gpg");
      const env = { GNUPGHOME: officer.dir };
      const init = await runKeysign(["init", "--queue-key", path.join(work, "queue-key.asc"), "--gpg", "--master", fingerprint, "--home", home], t.dataDir, env);
      assert.equal(init.code, 0, init.stderr);

      const { id, certified, userId } = await ceremony(["--gpg", "--home", home], env, "gpg@example.org");
      const keyId = fingerprint.slice(-16);
      const good = await relyingParty(masterPublic, fingerprint, certified);
      assert.equal(uidValidity(good.listing, userId), "f");
      assert.equal(masterSigs(good.listing, keyId, "sig").filter((line) => line.split(":")[1] === "!").length, 1);

      await revoke(id);
      const published = await desk.officer.get(`/admin/requests/${id}/certified-key`);
      const revoked = await relyingParty(masterPublic, fingerprint, published.body);
      assert.equal(masterSigs(revoked.listing, keyId, "rev").filter((line) => line.split(":")[1] === "!").length, 1);
      assert.notEqual(uidValidity(revoked.listing, userId), "f");
    });
  });

  /**
   * The attack that was once imported: a certification made with GnuPG's `tsign` (a trust
   * signature: the developer becomes an introducer for every install) by the real master,
   * with the batch's exact expiry, policy and notations and a correct sealed revocation.
   */
  it("refuses a GnuPG trust signature (tsign) end to end: the signer's inspect and the import name it, and nothing changes", async () => {
    t.clock.now = new Date();
    const master = await makeMasterKey({ passphrase: PASSPHRASE, date: new Date(Date.now() - 86_400_000) });
    await setMaster(desk, master.privateKey);
    const { id } = await queuedRequest(desk, "trusted@example.org", "Dev");
    const batch = await exportBatch(desk);
    const [item] = batch.payload.items;
    if (item?.kind !== "certify") throw new Error("expected a certify item");
    const tsigned = await withGpgHome(async (gpg) => {
      const passphraseFile = path.join(gpg.dir, "pass");
      await writeFile(passphraseFile, PASSPHRASE);
      await gpg.ok(["--passphrase-file", passphraseFile, "--import"], { input: master.secretArmored });
      await gpg.ok(["--import"], { input: Buffer.from(item.key, "base64") });
      const parameters = item.certification;
      await gpg.ok(
        [
          "--passphrase-file", passphraseFile, "--local-user", master.fingerprint, "--cert-digest-algo", "SHA256",
          "--default-cert-expire", `${parameters.validityDays}d`, "--no-ask-cert-expire",
          ...parameters.notations.flatMap((notation) => ["--cert-notation", `${notation.name}=${notation.value}`]),
          ...(parameters.policyUrl ? ["--cert-policy-url", parameters.policyUrl] : []),
          "--command-fd", "0", "--edit-key", item.fingerprint, "tsign", "save",
        ],
        // Trust level 2 (full), depth 1, no regular expression, sign.
        { input: "2\n1\n\ny\n" },
      );
      const exported = new Uint8Array(await gpg.ok(["--export", item.fingerprint]));
      return findMasterSignature(exported, new TextEncoder().encode(item.userIds[0]), master.fingerprint, [0x10, 0x11, 0x12, 0x13]);
    });
    assert.ok(tsigned, "GnuPG made a trust signature");
    const layout = readSignatureLayout(scanPackets(tsigned).packets[0]!.body)!;
    assert.ok(layout.hashed.some((subpacket) => subpacket.type === 5), "the certification carries a trust signature subpacket");
    const certifiedAt = parseSignature(scanPackets(tsigned).packets[0]!.body)!.packet.created!;
    const keyPacket = (await openpgp.readKey({ binaryKey: Buffer.from(item.key, "base64") })).keyPacket as openpgp.PublicKeyPacket;
    const sealed = await makeRevocation(master.privateKey, { key: keyPacket, userId: userIdBytes(item.userIds[0]!) }, sealedRevocationText(batch.payload.organisation, item.statusUrl), new Date(certifiedAt.getTime() + 1000));
    const result = await signBatch(batch.file, master.privateKey, {
      at: new Date(certifiedAt.getTime() + 2000),
      edit: (payload) => {
        const [answer] = payload.items;
        if (answer?.status !== "certified") throw new Error("expected a certified answer");
        answer.userIds = [{ userId: item.userIds[0]!, certification: b64(tsigned), revocation: b64(sealed) }];
      },
    });

    // At the signing machine: the officer's inspect gives the portal's verdict.
    const resultFile = path.join(work, "tsign-result.json");
    const batchFile = path.join(work, "tsign-batch.json");
    await writeFile(resultFile, result);
    await writeFile(batchFile, batch.file);
    const home = path.join(work, "signer-tsign");
    await writeFile(path.join(work, "tsign-master.asc"), master.secretArmored, { mode: 0o600 });
    assert.equal((await runKeysign(["init", "--queue-key", path.join(work, "queue-key.asc"), "--master-key", path.join(work, "tsign-master.asc"), "--home", home], t.dataDir)).code, 0);
    const inspected = await runKeysign(["inspect", resultFile, "--batch", batchFile, "--home", home], t.dataDir);
    assert.equal(inspected.code, 6, inspected.stdout + inspected.stderr);
    assert.match(inspected.stdout, /REFUSED\s+Dev <trusted@example.org>, key /);
    assert.match(inspected.stdout, /subpacket: certification of "Dev <trusted@example.org>": it carries a trust signature subpacket \(hashed area\)/);
    assert.match(inspected.stdout, /Verdict {5}REFUSED: the portal would refuse this result and change nothing/);

    // At the portal: refused, and nothing but the refusal's audit event is written.
    const before = await ceremonyState(t, id);
    const imported = await importResult(desk, result);
    assert.equal(imported.statusCode, 422);
    assert.match(imported.body, /it carries a trust signature subpacket \(hashed area\)/);
    assert.deepEqual(await ceremonyState(t, id), before);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "exported");
  });
});

/** Everything an import could change about a request and its batch, except the audit log (a refusal is recorded there). */
async function ceremonyState(t: TestApp, requestId: string) {
  const db = t.app.db;
  return {
    request: await db.request.findUniqueOrThrow({ where: { id: requestId }, select: { state: true, version: true } }),
    certifications: await db.certification.count(),
    batches: await db.batch.findMany({ select: { number: true, state: true, resultSha256: true }, orderBy: { number: "asc" } }),
    outcomes: await db.batchItem.count({ where: { outcome: { not: null } } }),
    emails: await db.outboxEmail.count(),
    events: await db.auditEvent.count({ where: { action: { not: "batch.import_refused" } } }),
  };
}
