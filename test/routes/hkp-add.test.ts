/**
 * `gpg --send-keys` against a live portal: a certified developer extends the expiry of their
 * key with GnuPG and sends it; the portal merges it and serves the new expiry with the master's
 * certification still there. A key the portal never certified is refused.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, withGpgHome } from "../helpers/gpg.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { submitRequest } from "../helpers/requests.ts";

describe("gpg --send-keys to the portal", () => {
  let t: TestApp;
  let key: TestKey;
  let certified: CertifiedRequest;
  let keyserver: string[];
  before(async () => {
    // GnuPG signs with the real time, so the portal runs on it too.
    t = await createTestApp({}, new Date());
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await soleReviewer(t);
    key = await makeTestKey([{ name: "Dev", email: "sender@example.org" }], { expiresInSeconds: 400 * 86_400 });
    const { id } = await submitRequest(t, "sender@example.org", "Dev", key);
    certified = await certifyRequest(t, id);
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    keyserver = ["--keyserver", `hkp://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`];
  });
  after(async () => t.close());

  const served = async () => (await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${certified.fingerprint}` })).body;

  it("merges an expiry extended with --quick-set-expire and serves it with the master's certification", async () => {
    await withGpgHome(async (gpg) => {
      await gpg.ok(["--import"], { input: key.privateArmored });
      await gpg.ok(["--quick-set-expire", certified.fingerprint, "3y"]);
      const listed = colonRecords(await gpg.ok(["--with-colons", "--list-keys", certified.fingerprint]));
      const expires = Number(listed.find((record) => record[0] === "pub")?.[6]);
      assert.ok(expires > Date.now() / 1000 + 2 * 365 * 86_400, "GnuPG extended the expiry");

      const sent = await gpg.run([...keyserver, "--send-keys", certified.fingerprint]);
      assert.equal(sent.code, 0, sent.stderr);
      const fetched = await openpgp.readKey({ armoredKey: await served() });
      assert.equal(((await fetched.getExpirationTime()) as Date).getTime(), expires * 1000, "the portal serves GnuPG's new expiry");
      const masterKeyId = certified.master.getKeyID();
      assert.ok(fetched.users[0]?.otherCertifications.some((signature) => signature.issuerKeyID.equals(masterKeyId)), "the master's certification is still there");
      assert.equal(await t.app.db.keyUpdate.count({ where: { source: "hkp" } }), 1);
    });
  });

  it("refuses a key it never certified, and stores nothing", async () => {
    await withGpgHome(async (gpg) => {
      await gpg.ok(["--passphrase", "", "--quick-generate-key", "Stranger <stranger@example.org>", "ed25519", "sign", "1y"]);
      const stranger = colonRecords(await gpg.ok(["--with-colons", "--list-keys", "stranger@example.org"])).find((record) => record[0] === "fpr")?.[9] ?? "";
      const before = await served();
      const sent = await gpg.run([...keyserver, "--send-keys", stranger]);
      assert.notEqual(sent.code, 0, "gpg reports the refusal");
      assert.match(sent.stderr, /keyserver send failed/);
      assert.equal(await t.app.db.keyUpdate.count(), 1);
      assert.equal((await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${stranger}` })).statusCode, 404);
      assert.equal(await served(), before);
    });
  });
});
