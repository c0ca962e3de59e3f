/**
 * The revision after "changes requested" starts where the request stands: the reviewer's message
 * on top, the current key kept (step one only to replace it), every answer filled in, and the
 * fresh signature it needs said up front with the command filled in. Step two links back to step
 * one, offers the blank agreement, and sends an address's confirmation link without losing the form.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { applyTransition } from "../../src/services/request-transitions.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser, type MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

const REASON = "Please sign page 2 of the agreement.";

function handleIn(html: string): string {
  return /name="heldFiles" value="([^"]+)"/.exec(html)?.[1] ?? "";
}

describe("the revision form after changes were requested", () => {
  let t: TestApp;
  let dev: Browser;
  let key: TestKey;
  let id: string;

  before(async () => {
    t = await createTestApp();
    dev = await signInAs(t, "reviser@example.org");
    key = await makeTestKey([{ name: "Dev", email: "reviser@example.org" }]);
    const parts: MultipartPart[] = [
      { name: "keyText", value: key.publicArmored },
      { name: "certifyUserIds", value: "Dev <reviser@example.org>" },
      { name: "publishUserIds", value: "Dev <reviser@example.org>" },
      { name: "licence", value: "MIT" },
      { name: "projectUrls", value: "https://github.com/dev/one\nhttps://github.com/dev/two" },
      { name: "attestOpenSource", value: "on" },
      { name: "attestNotCommercial", value: "on" },
      { name: "attestAgreement", value: "on" },
      { name: "agreement", filename: "my agreement.pdf", content: AGREEMENT_PDF },
      { name: "signature", filename: "agreement.pdf.asc", content: Buffer.from(await key.sign(AGREEMENT_PDF)) },
    ];
    const created = await dev.postMultipart("/requests", parts, "/requests/new");
    assert.equal(created.statusCode, 303, created.body.slice(0, 1000));
    id = String(created.headers.location).split("/").pop() ?? "";
    await t.app.db.$transaction((tx) =>
      applyTransition(tx, { requestId: id, event: "request_changes", actor: { type: "staff", id: "staff-1", ip: null }, now: t.clock.now, data: { reason: REASON } }),
    );
  });
  after(async () => t.close());

  it("starts at step two with the reviewer's message, the kept key, every answer filled in and the signing command", async () => {
    const page = await dev.get(`/requests/${id}/revise`);
    assert.equal(page.statusCode, 200);
    const body = page.body;
    assert.match(body, /<h2>Staff asked for changes<\/h2>\s*<blockquote class="reason">Please sign page 2 of the agreement.<\/blockquote>/);
    assert.match(body, /A fresh signature over the agreement is needed/);
    assert.ok(body.includes(`<code>gpg --local-user ${key.fingerprint} --armor --detach-sign agreement.pdf</code>`), "the command names the key's fingerprint, whole");
    assert.ok(body.indexOf("A fresh signature") < body.indexOf('name="agreement"'), "said before the files are asked for");
    assert.match(body, /Your key \(unchanged\)/);
    assert.doesNotMatch(body, /<textarea id="keyText"/, "step one is skipped");
    assert.match(body, /<input type="hidden" name="keyText" value="-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    assert.ok(body.includes(`href="/requests/${id}/revise/key">Replace the key</a>`));
    assert.match(body, /<option value="MIT" selected>/);
    assert.match(body, />https:\/\/github.com\/dev\/one\nhttps:\/\/github.com\/dev\/two<\/textarea>/);
    for (const name of ["attestOpenSource", "attestNotCommercial", "attestAgreement"]) assert.match(body, new RegExp(`name="${name}" checked`));
    assert.match(body, /name="certifyUserIds" value="Dev &lt;reviser@example.org&gt;" checked/);
    assert.match(body, /name="publishUserIds" value="Dev &lt;reviser@example.org&gt;" checked/);
    assert.match(body, /leave empty to keep my agreement.pdf/);
  });

  it("shows the reviewer's message on the request's page, beside the way to revise", async () => {
    const page = await dev.get(`/requests/${id}`);
    assert.match(page.body, /Staff asked for changes:<\/p>\s*<blockquote class="reason">Please sign page 2 of the agreement.<\/blockquote>/);
    assert.match(page.body, /needs a fresh signature over the agreement. <a class="button" href="\/requests\/[0-9a-f-]+\/revise">Revise the request<\/a>/);
  });

  it("offers step one only to replace the key, with a way back", async () => {
    const page = await dev.get(`/requests/${id}/revise/key`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<textarea id="keyText"/);
    assert.ok(page.body.includes(`href="/requests/${id}/revise">Keep the current key</a>`));
    assert.match(page.body, /name="version" value="\d+"/);
  });

  it("hides another applicant's revision (404)", async () => {
    const mallory = await signInAs(t, "mallory@example.org");
    for (const url of [`/requests/${id}/revise`, `/requests/${id}/revise/key`]) assert.equal((await mallory.get(url)).statusCode, 404, url);
  });

  it("is sent as filled in, with only a fresh signature over the current agreement", async () => {
    const page = (await dev.get(`/requests/${id}/revise`)).body;
    const version = /name="version" value="(\d+)"/.exec(page)?.[1] ?? "";
    const keyText = /name="keyText" value="([^"]+)"/.exec(page)?.[1]?.replace(/&#x3D;/g, "=").replace(/&#x2F;/g, "/").replace(/&amp;/g, "&") ?? "";
    const parts: MultipartPart[] = [
      { name: "version", value: version },
      { name: "keyText", value: keyText },
      { name: "certifyUserIds", value: "Dev <reviser@example.org>" },
      { name: "publishUserIds", value: "Dev <reviser@example.org>" },
      { name: "licence", value: "MIT" },
      { name: "projectUrls", value: "https://github.com/dev/one\nhttps://github.com/dev/two" },
      { name: "attestOpenSource", value: "on" },
      { name: "attestNotCommercial", value: "on" },
      { name: "attestAgreement", value: "on" },
      { name: "signature", filename: "agreement.pdf.asc", content: Buffer.from(await key.sign(AGREEMENT_PDF)) },
    ];
    const sent = await dev.postMultipart(`/requests/${id}/revise`, parts, `/requests/${id}/revise`);
    assert.equal(sent.statusCode, 303, sent.body.slice(0, 1500));
    const request = await t.app.db.request.findUniqueOrThrow({ where: { id } });
    assert.equal(request.state, "in_review");
    assert.equal(request.licence, "MIT");
    // Sent: the revision form is gone until staff ask again, and its address leads to the request.
    const again = await dev.get(`/requests/${id}/revise`);
    assert.equal(again.statusCode, 303);
    assert.equal(again.headers.location, `/requests/${id}`);
  });
});

describe("step two of the form", () => {
  let t: TestApp;
  let dev: Browser;
  let key: TestKey;

  before(async () => {
    t = await createTestApp({ SIGNIN_RATE_PER_ADDRESS: "2" });
    dev = await signInAs(t, "two@example.org");
    key = await makeTestKey([{ name: "Dev", email: "two@example.org" }, { name: "Dev at Work", email: "two@work.example" }]);
  });
  after(async () => t.close());

  function formParts(extra: MultipartPart[]): MultipartPart[] {
    return [
      { name: "keyText", value: key.publicArmored },
      { name: "certifyUserIds", value: "Dev <two@example.org>" },
      { name: "licence", value: "GPL-2.0-only" },
      { name: "projectUrls", value: "https://github.com/dev/kept" },
      { name: "attestOpenSource", value: "on" },
      ...extra,
    ];
  }

  it("links back to step one, offers the blank agreement, and explains the licence and project fields", async () => {
    const page = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<a href="\/requests\/new">Change the key<\/a>/);
    assert.match(page.body, /<a href="\/public\/keysign-agreement.pdf">blank Key Signing Agreement \(PDF\)<\/a>/);
    assert.match(page.body, /<label for="licence">Licence<\/label>\s*<p class="muted" id="licence-hint">[^<]*SPDX identifier[^<]*GPL-3.0-or-later/);
    assert.match(page.body, /<select id="licence" name="licence" required aria-describedby="licence-hint">/);
    assert.doesNotMatch(page.body, /Licence \(SPDX\)/);
    const blank = await dev.get("/public/keysign-agreement.pdf");
    assert.equal(blank.statusCode, 200);
    assert.equal(blank.rawPayload.subarray(0, 5).toString(), "%PDF-");
  });

  it("sends an address's confirmation link and shows the form again with its values and kept agreement; once confirmed, the user ID can be chosen", async () => {
    const sent = await dev.postMultipart("/requests/refresh", formParts([
      { name: "sendConfirmation", value: "two@work.example" },
      { name: "agreement", filename: "signed.pdf", content: AGREEMENT_PDF },
    ]), "/requests/new");
    assert.equal(sent.statusCode, 200, sent.body.slice(0, 1500));
    assert.match(sent.body, /We sent a confirmation link to <strong>two@work.example<\/strong>/);
    assert.match(sent.body, /<option value="GPL-2.0-only" selected>/);
    assert.match(sent.body, />https:\/\/github.com\/dev\/kept<\/textarea>/);
    assert.match(sent.body, /name="attestOpenSource" checked/);
    assert.match(sent.body, /<strong>signed.pdf<\/strong> \([\d.]+ KiB\) is kept/);
    assert.match(sent.body, /name="formToken" value="[^"]+"/);
    const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "two@work.example", template: "confirm-address" } });
    assert.equal(await t.app.db.request.count(), 0, "no request was made");

    const token = /token=([A-Za-z0-9_-]{22})/.exec(mail.text)?.[1] ?? "";
    const confirmed = await new Browser(t.app).postForm("/account/addresses/confirm", { token }, `/account/addresses/confirm?token=${token}`);
    assert.equal(confirmed.statusCode, 200);

    const formToken = /name="formToken" value="([^"]+)"/.exec(sent.body)?.[1] ?? "";
    const handle = handleIn(sent.body);
    const refreshed = await dev.postMultipart("/requests/refresh", [{ name: "formToken", value: formToken }, { name: "heldFiles", value: handle }, ...formParts([])], "/requests/new");
    assert.equal(refreshed.statusCode, 200);
    assert.match(refreshed.body, /name="certifyUserIds" value="Dev at Work &lt;two@work.example&gt;"/);
    assert.equal(handleIn(refreshed.body), handle, "the same files are still kept");

    const signature = Buffer.from(await key.sign(AGREEMENT_PDF));
    const done = await dev.postMultipart("/requests", [
      { name: "formToken", value: formToken },
      { name: "heldFiles", value: handle },
      ...formParts([
        { name: "certifyUserIds", value: "Dev at Work <two@work.example>" },
        { name: "attestNotCommercial", value: "on" },
        { name: "attestAgreement", value: "on" },
        { name: "signature", filename: "agreement.pdf.asc", content: signature },
      ]),
    ], "/requests/new");
    assert.equal(done.statusCode, 303, done.body.slice(0, 1500));
    const requestKey = await t.app.db.requestKey.findFirstOrThrow();
    assert.deepEqual(JSON.parse(requestKey.certifyUserIds), ["Dev <two@example.org>", "Dev at Work <two@work.example>"]);
    assert.equal(await t.app.db.heldUpload.count(), 0);
  });

  it("keeps the form when the confirmation path's limit refuses another link, and says why beside the user IDs", async () => {
    const address = "limit@work.example";
    const other = await makeTestKey([{ name: "Dev", email: "two@example.org" }, { name: "Dev", email: address }]);
    const parts = (): MultipartPart[] => [{ name: "keyText", value: other.publicArmored }, { name: "licence", value: "MIT" }, { name: "sendConfirmation", value: address }];
    for (let i = 0; i < 2; i++) assert.equal((await dev.postMultipart("/requests/refresh", parts(), "/requests/new")).statusCode, 200);
    const refused = await dev.postMultipart("/requests/refresh", parts(), "/requests/new");
    assert.equal(refused.statusCode, 400);
    assert.match(refused.body, /<p class="field-error" id="certifyUserIds-error"><span class="visually-hidden">Error:<\/span> We already sent several links to this address/);
    assert.match(refused.body, /<option value="MIT" selected>/);
    assert.equal(await t.app.db.outboxEmail.count({ where: { recipient: address } }), 2);
  });
});
