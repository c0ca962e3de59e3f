/**
 * Owner updates through `POST /pks/add` and the request page: what is merged and served, what
 * is refused (leaving no row, event or email), the body rules of the machine API, the staff
 * view and the owner's email.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { NOT_CERTIFIED_MESSAGE } from "../../src/core/publication/owner-update.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, REVIEWER, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import type { Browser } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { submitRequest, traces } from "../helpers/requests.ts";
import { signInStaff } from "../helpers/staff.ts";

const YEAR = 365 * 86_400;
const RENEWED_AT = new Date("2026-11-01T00:00:00Z");
const FORM = { "content-type": "application/x-www-form-urlencoded" };

/** Everything an owner update could leave behind. */
async function updateTraces(t: TestApp) {
  return { ...(await traces(t)), keyUpdates: await t.app.db.keyUpdate.count() };
}

async function renewed(key: TestKey, name: string, email: string, years = 3): Promise<string> {
  const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateArmored });
  const { publicKey } = await openpgp.reformatKey({ privateKey, userIDs: [{ name, email }], keyExpirationTime: years * YEAR, date: RENEWED_AT });
  return publicKey;
}

describe("owner updates over HTTP", () => {
  let t: TestApp;
  let key: TestKey;
  let applicant: Browser;
  let requestId: string;
  let certified: CertifiedRequest;
  const address = "owner@example.org";

  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
    key = await makeTestKey([{ name: "Dev", email: address }], { expiresInSeconds: YEAR });
    ({ id: requestId, applicant } = await submitRequest(t, address, "Dev", key));
    certified = await certifyRequest(t, requestId);
  });
  after(async () => t.close());

  const pksAdd = (keytext: string) => t.app.inject({ method: "POST", url: "/pks/add", headers: FORM, payload: new URLSearchParams({ keytext }).toString() });
  const lookup = (op = "get") => t.app.inject({ method: "GET", url: `/pks/lookup?op=${op}&options=mr&search=0x${certified.fingerprint}` });

  it("merges an extended expiry sent to /pks/add without cookies, audits it, emails the owner and serves it", async () => {
    const before = await lookup();
    const response = await pksAdd(await renewed(key, "Dev", address));
    assert.equal(response.statusCode, 200, response.body);
    assert.match(String(response.headers["content-type"]), /^text\/plain/);
    assert.match(response.body, new RegExp(`^Key ${certified.fingerprint} was updated and is published again\\.\\nThe key now expires on 2028-12-31 \\(before: 2027-01-01\\)\\.`));

    const served = await lookup();
    assert.notEqual(served.body, before.body);
    assert.equal((await lookup()).body, served.body, "the same bytes until it changes");
    const fetched = await openpgp.readKey({ armoredKey: served.body });
    assert.equal(((await fetched.getExpirationTime()) as Date).toISOString(), "2028-12-31T00:00:00.000Z");
    const masterKeyId = certified.master.getKeyID();
    assert.ok(fetched.users[0]?.otherCertifications.some((signature) => signature.issuerKeyID.equals(masterKeyId)), "the master's certification is still there");
    assert.match((await lookup("index")).body, new RegExp(`pub:${certified.fingerprint}:22:\\d+:\\d+:${Date.UTC(2028, 11, 31) / 1000}:\n`));

    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "key.owner_update" } });
    assert.equal(event.requestId, requestId);
    assert.equal(event.actorType, "system");
    assert.doesNotMatch(event.data, /BEGIN PGP|keytext/);
    assert.match(event.data, /"source":"hkp"/);
    const email = await t.app.db.outboxEmail.findFirstOrThrow({ where: { template: "key-updated" } });
    assert.equal(email.recipient, address);
    assert.match(email.text, /now expires on 2028-12-31/);
    assert.match(email.text, /publishes the updated key/);
  });

  it("answers a key sent again with no change, and stores nothing", async () => {
    const before = await updateTraces(t);
    const response = await pksAdd(await renewed(key, "Dev", address));
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /nothing new to merge; the published key is unchanged/);
    assert.deepEqual(await updateTraces(t), before);
  });

  it("refuses a key the portal never certified, leaving no row, event or email", async () => {
    const before = await updateTraces(t);
    const stranger = await makeTestKey([{ name: "Stranger", email: "stranger@example.org" }]);
    const response = await pksAdd(stranger.publicArmored);
    assert.equal(response.statusCode, 403);
    assert.equal(response.body, `${NOT_CERTIFIED_MESSAGE}\n`);
    assert.deepEqual(await updateTraces(t), before);
  });

  it("takes only an urlencoded body within its limit, and one key at a time", async () => {
    const before = await updateTraces(t);
    const big = await t.app.inject({ method: "POST", url: "/pks/add", headers: { ...FORM, "content-length": String(4 * 1024 * 1024) }, payload: "keytext=" });
    assert.equal(big.statusCode, 413);
    assert.match(big.body, /larger than allowed/);
    const json = await t.app.inject({ method: "POST", url: "/pks/add", headers: { "content-type": "application/json" }, payload: JSON.stringify({ keytext: key.publicArmored }) });
    assert.equal(json.statusCode, 415);
    assert.match(json.body, /keytext, as `gpg --send-keys` does/);
    const other = await makeTestKey([{ name: "Other", email: "other@example.org" }]);
    const several = await pksAdd(`${key.publicArmored}\n${other.publicArmored}`);
    assert.equal(several.statusCode, 400);
    assert.match(several.body, /send one key at a time/);
    const secret = await pksAdd(key.privateArmored);
    assert.equal(secret.statusCode, 400);
    assert.match(secret.body, /^Secret key material detected; nothing was stored/);
    const empty = await pksAdd("");
    assert.equal(empty.statusCode, 400);
    assert.match(empty.body, /form field keytext/);
    const tooLong = await pksAdd("A".repeat(1024 * 1024 + 10));
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.body, /at most 1048576 bytes/);
    assert.deepEqual(await updateTraces(t), before);
  });

  it("takes an update on the request page, shows what was merged, and shows it to staff", async () => {
    const page = await applicant.get(`/requests/${requestId}`);
    assert.match(page.body, /id="key-update"/);
    assert.match(page.body, new RegExp(`<a href="/keys/${certified.fingerprint}">your key's page</a>[\\s\\S]*?<code>gpg --send-keys ${certified.fingerprint}</code>`));
    const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateArmored });
    const withSigning = await privateKey.addSubkey({ sign: true, date: RENEWED_AT });
    const formUrl = `/account/requests/${requestId}/key-update`;
    const response = await applicant.postMultipart(formUrl, [{ name: "keyFile", filename: "key.asc", content: new TextEncoder().encode(withSigning.toPublic().armor()) }], formUrl);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(response.body, /Your key was updated and is published again/);
    assert.match(response.body, /Subkey [0-9A-F]{40} was added \(sign, no expiry\)/);
    assert.equal(await t.app.db.keyUpdate.count({ where: { source: "upload" } }), 1);
    assert.equal(await t.app.db.outboxEmail.count({ where: { template: "key-updated" } }), 2);

    const reviewer = await signInStaff(t, REVIEWER);
    const staffPage = await reviewer.get(`/admin/requests/${requestId}`);
    assert.match(staffPage.body, /Owner updates/);
    assert.match(staffPage.body, /the owner, on the request page/);
    assert.match(staffPage.body, /the owner, by keyserver/);
    assert.match(staffPage.body, /Subkey [0-9A-F]{40} was added/);
    assert.match(staffPage.body, /Published key updated by its owner/);
  });

  it("takes on the request page only that request's key, and only the applicant's own requests", async () => {
    const before = await updateTraces(t);
    const formUrl = `/account/requests/${requestId}/key-update`;
    const other = await makeTestKey([{ name: "Dev", email: address }]);
    const wrong = await applicant.postMultipart(formUrl, [{ name: "keyText", value: other.publicArmored }], formUrl);
    assert.equal(wrong.statusCode, 400);
    assert.match(wrong.body, new RegExp(`This is not the key of this request, which certified ${certified.fingerprint}`));
    assert.deepEqual(await updateTraces(t), before);
    const { applicant: intruder, id: intruderRequest } = await submitRequest(t, "intruder@example.org");
    assert.equal((await intruder.get(formUrl)).statusCode, 404);
    const ownForm = `/account/requests/${intruderRequest}/key-update`;
    const refused = await intruder.postMultipart(formUrl, [{ name: "keyText", value: key.publicArmored }], ownForm);
    assert.equal(refused.statusCode, 404);
    assert.match((await intruder.get(ownForm)).body, /has no certified key yet/);
    assert.equal(await t.app.db.keyUpdate.count(), before.keyUpdates);
  });

  it("flags the key revoked in the index once its owner sends the revocation, and keeps serving it", async () => {
    const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateArmored });
    const { publicKey } = await openpgp.revokeKey({ key: privateKey, date: RENEWED_AT });
    const response = await pksAdd(publicKey);
    assert.equal(response.statusCode, 200, response.body);
    assert.match(response.body, /You revoked the whole key/);
    assert.match((await lookup("index")).body, new RegExp(`pub:${certified.fingerprint}:22:\\d+:\\d+:\\d+:r\n`));
    const fetched = await openpgp.readKey({ armoredKey: (await lookup()).body });
    assert.equal(await fetched.isRevoked(undefined, undefined, RENEWED_AT), true);
    assert.equal((await pksAdd(await renewed(key, "Dev", address))).statusCode, 200, "an older copy does not withdraw the revocation");
    assert.match((await lookup("index")).body, /:r\n/);
  });
});

describe("POST /pks/add limits", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ LOG_LEVEL: "info" });
  });
  after(async () => t.close());

  it("answers at most 30 sendings per address in 10 minutes, and logs no key material", async () => {
    const key = await makeTestKey([{ name: "Flood", email: "flood@example.org" }]);
    const send = (ip: string) => t.app.inject({ method: "POST", url: "/pks/add", remoteAddress: ip, headers: FORM, payload: new URLSearchParams({ keytext: key.publicArmored }).toString() });
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await send("192.0.2.7")).statusCode);
    assert.deepEqual(statuses, [...Array<number>(30).fill(403), 429]);
    assert.equal((await send("192.0.2.8")).statusCode, 403, "another address is answered");
    const body = key.publicArmored.split("\n")[3] ?? "";
    assert.ok(body.length > 20);
    assert.ok(!t.logs.some((line) => line.includes(body) || line.includes("BEGIN PGP")), "no key text in the logs");
    assert.equal(await t.app.db.keyUpdate.count(), 0);
  });
});

describe("owner updates and a later renewal of the same key", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
  });
  after(async () => t.close());

  it("keeps a revocation an update published after a renewal request certifies the key again, and tells the publication each time", async () => {
    const address = "renewal@example.org";
    const key = await makeTestKey([{ name: "Dev", email: address }], { expiresInSeconds: YEAR });
    const { id: first } = await submitRequest(t, address, "Dev", key);
    const certified = await certifyRequest(t, first);
    let signals = 0;
    const unsubscribe = t.app.publication.subscribe(() => (signals += 1));
    try {
      const privateKey = await openpgp.readPrivateKey({ armoredKey: key.privateArmored });
      privateKey.subkeys[0] = await privateKey.subkeys[0]!.revoke(privateKey.keyPacket as openpgp.SecretKeyPacket, undefined, RENEWED_AT);
      const send = (keytext: string) => t.app.inject({ method: "POST", url: "/pks/add", headers: FORM, payload: new URLSearchParams({ keytext }).toString() });
      const revoked = await send(privateKey.toPublic().armor());
      assert.match(revoked.body, /Subkey [0-9A-F]{40} was revoked/);
      assert.equal(signals, 1);
      assert.equal((await send(privateKey.toPublic().armor())).statusCode, 200);
      assert.equal(signals, 1, "no change, no signal");

      const { id: renewal } = await submitRequest(t, address, "Dev", key);
      // A day later, so the fixture's certification differs from the first one.
      t.clock.now = new Date(t.clock.now.getTime() + 86_400_000);
      await certifyRequest(t, renewal, { master: certified.master });
      const served = await t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${certified.fingerprint}` });
      assert.equal(served.statusCode, 200);
      const fetched = await openpgp.readKey({ armoredKey: served.body });
      assert.equal(fetched.subkeys.length, 1);
      assert.equal(fetched.subkeys[0]!.revocationSignatures.length, 1, "the subkey's revocation stays published");
      assert.equal(fetched.users[0]!.otherCertifications.length, 2, "both certifications");
    } finally {
      unsubscribe();
    }
  });
});
