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
import { MAX_UPDATES_PER_DAY } from "../../src/services/owner-updates.ts";

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

  it(`takes at most ${MAX_UPDATES_PER_DAY} merged updates of a key in 24 hours, then refuses and stores nothing`, async () => {
    const owner = await makeTestKey([{ name: "Busy", email: "busy@example.org" }], { expiresInSeconds: 400 * 86_400 });
    const { id } = await submitRequest(t, "busy@example.org", "Busy", owner);
    const { fingerprint } = await certifyRequest(t, id);
    const send = (keytext: string) => t.app.inject({ method: "POST", url: "/pks/add", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams({ keytext }).toString() });
    await withGpgHome(async (gpg) => {
      await gpg.ok(["--import"], { input: owner.privateArmored });
      // Each a new self-signature a few seconds after the one before, all in the past hour.
      const start = Math.floor(Date.now() / 1000) - 3600;
      const renewed = async (step: number) => {
        await gpg.ok(["--faked-system-time", `${start + step * 5}!`, "--quick-set-expire", fingerprint, `${500 + step}d`]);
        return (await gpg.ok(["--armor", "--export", fingerprint])).toString("utf8");
      };
      for (let step = 1; step <= MAX_UPDATES_PER_DAY; step++) {
        const answer = await send(await renewed(step));
        assert.equal(answer.statusCode, 200, answer.body);
        assert.match(answer.body, /was updated and is published again/);
      }
      const before = (await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${fingerprint}` })).body;
      const refused = await send(await renewed(MAX_UPDATES_PER_DAY + 1));
      assert.equal(refused.statusCode, 429, refused.body);
      assert.match(refused.body, new RegExp(`already updated ${MAX_UPDATES_PER_DAY} times in the last 24 hours`));
      assert.equal(await t.app.db.keyUpdate.count({ where: { fingerprint } }), MAX_UPDATES_PER_DAY, "the refused update left no row");
      assert.equal((await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${fingerprint}` })).body, before);
    });
  });
});
