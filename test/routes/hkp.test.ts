/**
 * Published keys over HKP and VKS, by exact fingerprint or key ID only, and GnuPG fetching and
 * refreshing them from the portal (dirmngr against a real listening server).
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { scanPackets, TAG } from "../../src/core/key-policy/packets.ts";
import { keyIdsOf } from "../../src/core/publication/published-key.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, withGpgHome } from "../helpers/gpg.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";

/** The signature types of a fetched key, in order. */
async function signatureTypes(armored: string): Promise<number[]> {
  const { data } = await openpgp.unarmor(armored);
  return scanPackets(data).packets.filter((packet) => packet.tag === TAG.signature).map((packet) => packet.body[1] ?? 0);
}

describe("HKP and VKS", () => {
  let t: TestApp;
  let certified: CertifiedRequest;
  let requestId: string;
  let base: string;
  before(async () => {
    t = await createTestApp({}, new Date());
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await soleReviewer(t);
    const { id } = await submitRequest(t, "published@example.org");
    requestId = id;
    certified = await certifyRequest(t, id);
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    base = `127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  after(async () => t.close());

  const get = (url: string) => new Browser(t.app).get(url);

  it("serves a certified key by fingerprint, primary key ID and subkey key ID, the same bytes each time", async () => {
    const ids = await keyIdsOf(certified.canonicalKey);
    assert.ok(ids.length >= 2, "the test key has a subkey");
    const first = await get(`/pks/lookup?op=get&options=mr&search=0x${certified.fingerprint}`);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers["content-type"], "application/pgp-keys");
    assert.deepEqual(await signatureTypes(first.body), [0x13, 0x10, 0x18], "self-signature, the master's certification, the subkey binding");
    for (const url of [`/pks/lookup?op=get&search=0x${certified.fingerprint.toLowerCase()}`, ...ids.map((id) => `/pks/lookup?op=get&options=mr&search=0x${id}`), `/vks/v1/by-fingerprint/${certified.fingerprint}`, `/vks/v1/by-keyid/${ids[1]}`]) {
      const again = await get(url);
      assert.equal(again.statusCode, 200, url);
      assert.equal(again.body, first.body, url);
    }
  });

  it("lists a key in the machine-readable index without its user IDs", async () => {
    const index = await get(`/pks/lookup?op=index&options=mr&search=0x${certified.fingerprint}`);
    assert.equal(index.statusCode, 200);
    const [info, pub, ...rest] = index.body.trimEnd().split("\n");
    assert.equal(info, "info:1:1");
    assert.match(pub ?? "", new RegExp(`^pub:${certified.fingerprint}:22:\\d+:\\d+::$`));
    assert.deepEqual(rest, []);
    assert.doesNotMatch(index.body, /published@example\.org/);
  });

  it("answers no enumeration: short IDs, substrings, wildcards and unknown operations are refused, unknown keys and addresses not found", async () => {
    const cases: Array<[string, number, RegExp]> = [
      ["/pks/lookup?search=0x" + certified.fingerprint, 400, /op=get/],
      ["/pks/lookup?op=stats", 501, /op=get, op=index and op=vindex/],
      ["/pks/lookup?op=get", 400, /Say which key/],
      [`/pks/lookup?op=get&search=0x${certified.fingerprint.slice(-8)}`, 400, /Short key IDs are not looked up/],
      ["/pks/lookup?op=index&search=published", 400, /Only exact lookups/],
      ["/pks/lookup?op=index&search=*", 400, /Only exact lookups/],
      ["/pks/lookup?op=get&search=published@example.org", 404, /No key is published here/],
      [`/pks/lookup?op=get&search=0x${"A".repeat(40)}`, 404, /No key is published here/],
      ["/vks/v1/by-email/published@example.org", 404, /No key is published here/],
      ["/vks/v1/by-keyid/12345678", 404, /No key is published here/],
    ];
    for (const [url, status, message] of cases) {
      const response = await get(url);
      assert.equal(response.statusCode, status, url);
      assert.match(response.body, message, url);
    }
    const { key } = await submitRequest(t, "waiting@example.org");
    assert.equal((await get(`/pks/lookup?op=get&search=0x${key.fingerprint}`)).statusCode, 404, "a key under review is not published");
  });

  it("lets GnuPG's --search-keys find a key by an address its owner published, and by no other", async () => {
    const { id, applicant } = await submitRequest(t, "searchable@example.org", "Sam Searchable");
    const found = await certifyRequest(t, id);
    await submitRequest(t, "unlisted@example.org", "Una Unlisted").then(({ id: other }) => certifyRequest(t, other));
    assert.equal((await applicant.postForm(`/requests/${id}/publish`, { publishUserIds: "Sam Searchable <searchable@example.org>" }, `/requests/${id}`)).statusCode, 303);
    await withGpgHome(async (gpg) => {
      const keyserver = ["--keyserver", `hkp://${base}`, "--keyserver-options", "no-self-sigs-only"];
      // In batch mode GnuPG lists what it found and asks nothing (exit 2 either way).
      const listed = await gpg.run([...keyserver, "--search-keys", "searchable@example.org"]);
      const shown = `${listed.stdout.toString()}${listed.stderr}`;
      assert.match(shown, /\(1\)\s+Sam Searchable <searchable@example\.org>/);
      assert.match(shown, new RegExp(`key ${found.fingerprint.slice(-16)}`));
      const unlisted = await gpg.run([...keyserver, "--search-keys", "unlisted@example.org"]);
      assert.match(unlisted.stderr, /not found on keyserver/);
    });
  });

  it("lets GnuPG fetch the key with the master's certification, and refresh it to see the revocation", async () => {
    await withGpgHome(async (gpg) => {
      const keyserver = ["--keyserver", `hkp://${base}`, "--keyserver-options", "no-self-sigs-only"];
      await gpg.ok(["--import"], { input: certified.master.toPublic().armor() });
      await gpg.ok(["--import-ownertrust"], { input: `${certified.master.getFingerprint().toUpperCase()}:6:\n` });
      await gpg.ok([...keyserver, "--recv-keys", certified.fingerprint]);
      const masterKeyId = certified.master.getKeyID().toHex().toUpperCase();
      const listing = async () => colonRecords(await gpg.ok(["--with-colons", "--check-sigs", certified.fingerprint]));
      const fetched = await listing();
      assert.equal(fetched.find((record) => record[0] === "uid")?.[1], "f", "full validity through the master");
      assert.ok(fetched.some((record) => record[0] === "sig" && record[1] === "!" && record[4] === masterKeyId));

      assert.equal((await revokeAsSoleReviewer(t, requestId, "key_compromised")).statusCode, 303);
      await gpg.ok([...keyserver, "--refresh-keys", certified.fingerprint]);
      const refreshed = await listing();
      assert.ok(refreshed.some((record) => record[0] === "rev" && record[1] === "!" && record[4] === masterKeyId), "the master's revocation arrived");
      assert.notEqual(refreshed.find((record) => record[0] === "uid")?.[1], "f");
    });
  });
});
