/**
 * The signed status feed: every certification with its state, signed over the exact bytes by the
 * portal's publication key, with a sequence that only grows and a signature renewed daily.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { userIdDigest, type Feed } from "../../src/core/publication/feed.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const HOUR = 3_600_000;

describe("the signed status feed", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
  });
  after(async () => t.close());

  /** The feed as a verifier reads it: the bytes, checked against the publication key it downloaded. */
  async function verifiedFeed(between: () => Promise<void> = async () => undefined): Promise<Feed> {
    const visitor = new Browser(t.app);
    const body = await visitor.get("/status/v1/feed.json");
    assert.equal(body.headers["content-type"], "application/json");
    await between();
    const [signature, key] = await Promise.all(["/status/v1/feed.json.sig", "/status/v1/publication-key.asc"].map((url) => visitor.get(url)));
    const publicationKey = await openpgp.readKey({ armoredKey: key!.body });
    const { signatures } = await openpgp.verify({ message: await openpgp.createMessage({ binary: body.rawPayload }), signature: await openpgp.readSignature({ armoredSignature: signature!.body }), verificationKeys: publicationKey });
    await signatures[0]!.verified;
    assert.equal(publicationKey.getFingerprint().toUpperCase(), t.app.statusFeed.key.fingerprint);
    assert.notEqual(t.app.statusFeed.key.fingerprint, t.app.signingQueue.queueKey.fingerprint, "a key of its own, not the queue key");
    return JSON.parse(body.body) as Feed;
  }

  it("lists every certification with its state, signed by the publication key, and grows its sequence only on change or after a day", async () => {
    const empty = await verifiedFeed();
    assert.deepEqual([empty.format, empty.version, empty.sequence, empty.entries], ["keysign-status-feed", 1, 1, []]);
    assert.equal(new Date(empty.validUntil).getTime() - new Date(empty.generatedAt).getTime(), 48 * HOUR);

    const { id } = await submitRequest(t, "feed@example.org", "Fay Feed");
    // A change between fetching the feed and its signature does not pair the body with another signature.
    let fingerprint = "";
    const unchanged = await verifiedFeed(async () => void ({ fingerprint } = await certifyRequest(t, id)));
    assert.equal(unchanged.sequence, 1);
    const certified = await verifiedFeed();
    assert.equal(certified.sequence, 2);
    assert.deepEqual(certified.entries.map((entry) => [entry.fingerprint, entry.userIdSha256, entry.state, entry.reason]), [[fingerprint, userIdDigest("Fay Feed <feed@example.org>"), "certified", null]]);
    assert.doesNotMatch(JSON.stringify(certified), /feed@example\.org|Fay Feed/, "no address in the feed");
    assert.equal((await verifiedFeed()).sequence, 2, "nothing changed: the same feed");

    assert.equal((await revokeAsSoleReviewer(t, id, "malicious_module", "staff only")).statusCode, 303);
    const revoked = await verifiedFeed();
    assert.equal(revoked.sequence, 3);
    assert.deepEqual(revoked.entries.map((entry) => [entry.state, entry.reason, entry.revokedAt !== null]), [["revoked", "malicious_module", true]]);
    assert.doesNotMatch(JSON.stringify(revoked), /staff only/);

    // No change for a day: signed again, so a feed that stops moving can be told from a current one.
    const before = t.clock.now;
    t.clock.now = new Date(before.getTime() + 24 * HOUR);
    try {
      const renewed = await verifiedFeed();
      assert.equal(renewed.sequence, 4);
      assert.equal(renewed.generatedAt, t.clock.now.toISOString());
      assert.deepEqual(renewed.entries, revoked.entries);
    } finally {
      t.clock.now = before;
    }
  });

  it("reads the certifications once for many fetches of the feed, and again at once after a publication change", async () => {
    const { id } = await submitRequest(t, "memo@example.org", "Memo");
    const { fingerprint } = await certifyRequest(t, id);
    const current = await verifiedFeed();
    assert.ok(current.entries.some((entry) => entry.fingerprint === fingerprint && entry.state === "certified"));
    // Revoked behind the portal's back (no signal): the feed checked a moment ago stands.
    await t.app.db.certification.updateMany({ where: { requestId: id }, data: { revokedAt: t.clock.now } });
    for (let i = 0; i < 20; i++) assert.equal((await verifiedFeed()).sequence, current.sequence, "a fetch reads no certification");
    t.app.publication.changed();
    const changed = await verifiedFeed();
    assert.equal(changed.sequence, current.sequence + 1, "the signal makes the next fetch check again");
    assert.ok(changed.entries.some((entry) => entry.fingerprint === fingerprint && entry.state === "revoked"));
  });

  it("shows the publication key's fingerprint on the settings page", async () => {
    await createStaff(t, { email: "ada@keysign.example", roles: ["admin"] });
    const page = (await (await signInStaff(t, "ada@keysign.example")).get("/admin/settings")).body;
    const grouped = t.app.statusFeed.key.fingerprint.replace(/(.{4})(?=.)/g, "$1 ");
    assert.match(page, new RegExp(`<h2>Publication key</h2>[\\s\\S]*${grouped}`));
  });
});
