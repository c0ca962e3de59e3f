/**
 * The public status page of a key, which every revocation names ("the reason and date are at
 * …/keys/FINGERPRINT"): certified, expired or revoked with the date and the reason's label, and
 * nothing about its owner.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";

const DAY = 86_400_000;

describe("the public status page of a key", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
  });
  after(async () => t.close());

  const visitor = () => new Browser(t.app);

  it("shows a certified key's state and dates to anyone, by its fingerprint in any spelling, and no address", async () => {
    const { id } = await submitRequest(t, "public@example.org", "Pat Public");
    const { fingerprint } = await certifyRequest(t, id);
    for (const spelling of [fingerprint, fingerprint.toLowerCase(), formatFingerprint(fingerprint)]) {
      const page = await visitor().get(`/keys/${encodeURIComponent(spelling)}`);
      assert.equal(page.statusCode, 200, spelling);
      assert.match(page.body, /<p class="state state-certified">Certified<\/p>/);
    }
    const page = (await visitor().get(`/keys/${fingerprint}`)).body;
    // certifyRequest certifies an hour before the clock, for 730 days.
    assert.match(page, /<td>2026-11-24<\/td>\s*<td>2028-11-23<\/td>\s*<td>Certified<\/td>/);
    assert.match(page, new RegExp(`<code>gpg --check-sigs ${fingerprint}</code>`));
    assert.match(page, new RegExp(`<a href="/vks/v1/by-fingerprint/${fingerprint}">Download the key</a>`));
    assert.match(page, new RegExp(`<code>gpg --keyserver hkp://portal.keysign.test:80 --keyserver-options no-self-sigs-only --recv-keys ${fingerprint}</code>`));
    assert.equal((await visitor().get(`/vks/v1/by-fingerprint/${fingerprint}`)).statusCode, 200, "the download link works");
    assert.doesNotMatch(page, /public@example\.org|Pat Public/, "no user ID or address without the owner's consent");
    // Once the certification lapses, the page says so.
    const later = t.clock.now;
    t.clock.now = new Date(later.getTime() + 731 * DAY);
    try {
      assert.match((await visitor().get(`/keys/${fingerprint}`)).body, /<p class="state state-expired">Certification expired<\/p>/);
    } finally {
      t.clock.now = later;
    }
  });

  it("shows a revocation's date and reason, never staff's own words", async () => {
    const { id } = await submitRequest(t, "revoked@example.org");
    const { fingerprint } = await certifyRequest(t, id);
    const revoked = await revokeAsSoleReviewer(t, id, "malicious_module", "internal: report #4711 from the partner");
    assert.equal(revoked.statusCode, 303);
    const page = (await visitor().get(`/keys/${fingerprint}`)).body;
    assert.match(page, /<p class="state state-revoked">Certification revoked<\/p>/);
    assert.match(page, /<td>Certification revoked on 2026-11-24<\/td>\s*<td>Malicious module<\/td>/);
    assert.doesNotMatch(page, /4711|partner/);
  });

  it("answers 404 with what to check for a key with no certification, a malformed or a short fingerprint", async () => {
    const { key } = await submitRequest(t, "waiting@example.org");
    for (const path of [`/keys/${key.fingerprint}`, `/keys/${"A".repeat(40)}`, "/keys/ABCD1234", `/keys/${"Z".repeat(40)}`]) {
      const response = await visitor().get(path);
      assert.equal(response.statusCode, 404, path);
    }
    assert.match((await visitor().get(`/keys/${key.fingerprint}`)).body, /No certification of this key is published here\. Check the fingerprint: it has 40 hexadecimal digits/);
  });
});
