/**
 * The applicant's pages in plain words: removing an email address (asked first, audited, never
 * the sign-in address nor one a live request uses, with the reason said), explained digests and
 * licence, tags that follow the request, and commands filled in with the applicant's own values.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { certifyRequest } from "../helpers/certified.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submissionParts } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

describe("removing an email address from the account", () => {
  let t: TestApp;
  let dev: Browser;
  let requestId: string;

  before(async () => {
    t = await createTestApp();
    dev = await signInAs(t, "dev@example.org");
    for (const address of ["work@example.com", "spare@example.com"]) {
      await dev.postForm("/account/addresses", { address }, "/account");
      const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: address } });
      const token = /token=([A-Za-z0-9_-]{22})/.exec(mail.text)?.[1] ?? "";
      assert.equal((await new Browser(t.app).postForm("/account/addresses/confirm", { token }, `/account/addresses/confirm?token=${token}`)).statusCode, 200);
    }
    await dev.postForm("/account/addresses", { address: "pending@example.com" }, "/account");
    const key = await makeTestKey([{ name: "Dev", email: "work@example.com" }]);
    const created = await dev.postMultipart("/requests", await submissionParts(key, "Dev <work@example.com>"), "/requests/new");
    assert.equal(created.statusCode, 303, created.body.slice(0, 1000));
    requestId = String(created.headers.location).split("/").pop() ?? "";
  });
  after(async () => t.close());

  const removed = () => t.app.db.auditEvent.count({ where: { action: "applicant.address_removed" } });
  const onAccount = async (address: string) => (await t.app.db.emailAddress.count({ where: { address, applicant: { email: "dev@example.org" } } })) === 1;

  it("offers removal only where it is allowed, and says why an address stays", async () => {
    const page = (await dev.get("/account")).body;
    assert.match(page, /This is your sign-in address, so it stays on your account/);
    assert.match(page, /Your submitted request certifies “Dev &lt;work@example.com&gt;” with this address, so it stays while that request is open or certified./);
    assert.ok(page.includes(`<a href="/requests/${requestId}">See the request</a>`));
    assert.match(page, /<a href="\/account\/addresses\/remove\?address(=|&#x3D;)spare%40example.com">Remove<span class="visually-hidden"> spare@example.com<\/span><\/a>/);
    assert.doesNotMatch(page, /remove\?address(=|&#x3D;)dev%40example.org/);
    assert.doesNotMatch(page, /remove\?address(=|&#x3D;)work%40example.com/);
  });

  it("asks first, saying what follows; without the box ticked nothing changes", async () => {
    const confirm = await dev.get("/account/addresses/remove?address=spare%40example.com");
    assert.equal(confirm.statusCode, 200);
    assert.match(confirm.body, /<h1>Remove an email address<\/h1>\s*<p>Removing <strong class="address">spare@example.com<\/strong> from your account means:/);
    assert.match(confirm.body, /you can no longer sign in with it/);
    assert.match(confirm.body, /name="confirm" value="yes" required> I want to remove spare@example.com from my account/);
    const before = await removed();
    const unticked = await dev.postForm("/account/addresses/remove", { address: "spare@example.com" }, "/account/addresses/remove?address=spare%40example.com");
    assert.equal(unticked.statusCode, 400);
    assert.match(unticked.body, /Tick the box to confirm/);
    assert.ok(await onAccount("spare@example.com"));
    assert.equal(await removed(), before);
  });

  it("removes a confirmed address with an audit event; it no longer signs in to this account", async () => {
    const before = await removed();
    const done = await dev.postForm("/account/addresses/remove", { address: "spare@example.com", confirm: "yes" }, "/account/addresses/remove?address=spare%40example.com");
    assert.equal(done.statusCode, 200);
    assert.match(done.body, /<strong>spare@example.com<\/strong> was removed from your account/);
    assert.equal(await onAccount("spare@example.com"), false);
    assert.equal(await removed(), before + 1);
    const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "applicant.address_removed" }, orderBy: { seq: "desc" } });
    assert.deepEqual(JSON.parse(event.data), { address: "spare@example.com", confirmed: true });
    const devId = (await t.app.db.applicant.findUniqueOrThrow({ where: { email: "dev@example.org" } })).id;
    const spare = await signInAs(t, "spare@example.com");
    const page = (await spare.get("/account")).body;
    assert.doesNotMatch(page, /dev@example.org/, "signing in with it makes or finds another account");
    assert.notEqual((await t.app.db.applicant.findUniqueOrThrow({ where: { email: "spare@example.com" } })).id, devId);
  });

  it("removes an address still waiting for confirmation, and its link stops working", async () => {
    const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "pending@example.com" } });
    const token = /token=([A-Za-z0-9_-]{22})/.exec(mail.text)?.[1] ?? "";
    const done = await dev.postForm("/account/addresses/remove", { address: "pending@example.com", confirm: "yes" }, "/account");
    assert.equal(done.statusCode, 200);
    assert.equal(await onAccount("pending@example.com"), false);
    const late = await new Browser(t.app).get(`/account/addresses/confirm?token=${token}`);
    assert.equal(late.statusCode, 400);
    assert.match(late.body, /This link is not valid any more/);
  });

  it("refuses the sign-in address and an address a live request uses, with the reason, and changes nothing", async () => {
    const before = await removed();
    for (const [address, reason] of [
      ["dev@example.org", /This is your sign-in address/],
      ["work@example.com", /Your submitted request certifies/],
    ] as const) {
      const page = await dev.get(`/account/addresses/remove?address=${encodeURIComponent(address)}`);
      assert.match(page.body, reason);
      assert.doesNotMatch(page.body, /action="\/account\/addresses\/remove"/, "no form to send");
      const refused = await dev.postForm("/account/addresses/remove", { address, confirm: "yes" }, "/account");
      assert.equal(refused.statusCode, 409, address);
      assert.match(refused.body, reason);
      assert.ok(await onAccount(address));
    }
    assert.equal(await removed(), before);
  });

  it("does not remove another applicant's address (404), nor tell whether it exists", async () => {
    const mallory = await signInAs(t, "mallory@example.org");
    const refused = await mallory.postForm("/account/addresses/remove", { address: "work@example.com", confirm: "yes" }, "/account");
    assert.equal(refused.statusCode, 404);
    assert.equal((await mallory.get("/account/addresses/remove?address=work%40example.com")).statusCode, 404);
    assert.ok(await onAccount("work@example.com"));
  });

  it("lets the address go once its request is withdrawn", async () => {
    const page = await dev.get(`/requests/${requestId}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)?.[1] ?? "";
    assert.equal((await dev.postForm(`/requests/${requestId}/withdraw`, { version, confirm: "yes" }, `/requests/${requestId}`)).statusCode, 303);
    const done = await dev.postForm("/account/addresses/remove", { address: "work@example.com", confirm: "yes" }, "/account");
    assert.equal(done.statusCode, 200);
    assert.equal(await onAccount("work@example.com"), false);
  });
});

describe("plain words and filled-in commands on the applicant's pages", () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  it("explains the digests, and tags the chosen user IDs as certified once they are", async () => {
    const dev = await signInAs(t, "words@example.org");
    const key = await makeTestKey([{ name: "Dev", email: "words@example.org" }]);
    const created = await dev.postMultipart("/requests", await submissionParts(key, "Dev <words@example.org>"), "/requests/new");
    const id = String(created.headers.location).split("/").pop() ?? "";
    const waiting = (await dev.get(`/requests/${id}`)).body;
    assert.doesNotMatch(waiting, /Canonical copy SHA-256/);
    assert.match(waiting, /<dt>Digest of the reviewed copy \(SHA-256\)<\/dt>/);
    assert.match(waiting, /Reviewers check that copy and the master key signs it/);
    assert.match(waiting, /your detached signature covers these bytes/);
    assert.match(waiting, /Dev &lt;words@example.org&gt; <span class="tag">to be certified<\/span>/);

    await certifyRequest(t, id);
    const certified = (await dev.get(`/requests/${id}`)).body;
    assert.doesNotMatch(certified, /to be certified/);
    assert.match(certified, /Dev &lt;words@example.org&gt; <span class="tag">certified<\/span>/);
    assert.ok(certified.includes(`<code>gpg --import ${key.fingerprint}.asc</code>`));
    assert.ok(certified.includes(`<code>gpg --check-sigs ${key.fingerprint}</code>`));
  });

  it("fills in the export command with the applicant's address, and the signing command with the key's whole fingerprint", async () => {
    const dev = await signInAs(t, "commands@example.org");
    const stepOne = (await dev.get("/requests/new")).body;
    assert.match(stepOne, /<code>gpg --armor --export commands@example.org &gt; key.asc<\/code>/);
    assert.doesNotMatch(stepOne, /you@example.org/);
    const key = await makeTestKey([{ name: "Dev", email: "commands@example.org" }]);
    const stepTwo = (await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new")).body;
    assert.ok(stepTwo.includes(`<code>gpg --local-user ${key.fingerprint} --armor --detach-sign agreement.pdf</code>`));
    assert.match(stepTwo, /<button type="button" class="copy" data-copy hidden>Copy<span class="visually-hidden"> the signing command<\/span><\/button>/);
  });
});
