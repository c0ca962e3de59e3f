/**
 * What a FreePBX install sees when it fetches a developer's key from the portal over HKP, as
 * FreePBX does (`--recv-keys`, later `--refresh-keys`), with a stock GnuPG and with
 * `keyserver-options no-self-sigs-only`. The master is RSA, as FreePBX's REVOKED test assumes.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { checkSigs, freepbxSeesRevoked, makeModuleSig, verifyStatus, withFreepbxHome } from "../helpers/freepbx.ts";
import { colonRecords } from "../helpers/gpg.ts";
import type { TestKey } from "../helpers/keys.ts";
import { submitRequest } from "../helpers/requests.ts";
import { makeMaster } from "../helpers/signing-queue.ts";

describe("a FreePBX install fetching from the portal over HKP", () => {
  let t: TestApp;
  let certified: CertifiedRequest;
  let developer: TestKey;
  let requestId: string;
  let keyserver: string;
  let work: string;
  let moduleSig: string;
  before(async () => {
    t = await createTestApp({}, new Date());
    // GnuPG judges with the real clock, so the portal keeps it too.
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await soleReviewer(t);
    ({ id: requestId, key: developer } = await submitRequest(t, "hkp-dev@example.org", "Dev"));
    certified = await certifyRequest(t, requestId, { master: await makeMaster("rsa3072") });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    keyserver = `hkp://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    work = await mkdtemp(path.join(tmpdir(), "keysign-hkp-freepbx-"));
    moduleSig = path.join(work, "module.sig");
    await writeFile(moduleSig, await makeModuleSig(developer));
  });
  after(async () => {
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const masterKeyId = () => certified.master.getKeyID().toHex().toUpperCase();
  const masterSignatures = (listing: string) => colonRecords(listing).filter((record) => (record[0] === "sig" || record[0] === "rev") && record[4] === masterKeyId());

  it("stock GnuPG (2.2.17 and later: keyserver imports keep self-signatures only) drops the master's certification, so the module is untrusted", async () => {
    await withFreepbxHome(certified.master, async (gpg) => {
      await gpg.ok(["--keyserver", keyserver, "--recv-keys", developer.fingerprint.slice(-16)]);
      const listing = await checkSigs(gpg, developer);
      assert.ok(colonRecords(listing).some((record) => record[0] === "pub"), "the key itself arrived");
      assert.deepEqual(masterSignatures(listing), [], "without the master's certification");
      const status = await verifyStatus(gpg, moduleSig);
      assert.match(status, /^\[GNUPG:\] GOODSIG /m);
      assert.doesNotMatch(status, /TRUST_(FULLY|ULTIMATE)/, "FreePBX would call it signed by an invalid key");
    });
  });

  it("with no-self-sigs-only, --recv-keys trusts the module and --refresh-keys brings the revocation FreePBX reports as REVOKED", async () => {
    await withFreepbxHome(certified.master, async (gpg) => {
      const options = ["--keyserver", keyserver, "--keyserver-options", "no-self-sigs-only"];
      await gpg.ok([...options, "--recv-keys", developer.fingerprint.slice(-16)]);
      assert.match(await verifyStatus(gpg, moduleSig), /^\[GNUPG:\] TRUST_FULLY/m);
      assert.equal(freepbxSeesRevoked(await checkSigs(gpg, developer), certified.master), false);

      assert.equal((await revokeAsSoleReviewer(t, requestId, "key_compromised")).statusCode, 303);
      await gpg.ok([...options, "--refresh-keys"]);
      assert.ok(freepbxSeesRevoked(await checkSigs(gpg, developer), certified.master), "a line matches ^rev:!::1:<master long key id>");
      assert.doesNotMatch(await verifyStatus(gpg, moduleSig), /TRUST_(FULLY|ULTIMATE)/);
    });
  });
});
