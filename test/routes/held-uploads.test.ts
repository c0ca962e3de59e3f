/**
 * Files kept across an error: when step two of the request form fails, the agreement and the
 * signature that were themselves valid are held for that applicant's next try of that form,
 * named on the page, bounded in number, deleted on success and on expiry, and never used for
 * anyone else or another form.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { applyTransition } from "../../src/services/request-transitions.ts";
import { HELD_NOTICES, MAX_HELD_SETS } from "../../src/services/held-uploads.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser, MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { AGREEMENT_PDF } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

const HELD_NOTICE_GONE = HELD_NOTICES.gone.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function handleIn(html: string): string {
  return /name="heldFiles" value="([^"]+)"/.exec(html)?.[1] ?? "";
}

describe("files kept across an error on the request form", () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  async function heldFiles(): Promise<string[]> {
    return readdir(path.join(t.dataDir, "held")).catch(() => []);
  }

  async function applicant(address: string): Promise<{ browser: Browser; key: TestKey; signature: Buffer }> {
    const browser = await signInAs(t, address);
    const key = await makeTestKey([{ name: "Dev", email: address }]);
    return { browser, key, signature: Buffer.from(await key.sign(AGREEMENT_PDF)) };
  }

  function parts(key: TestKey, address: string, extra: MultipartPart[], fields: Record<string, string> = {}): MultipartPart[] {
    const values: Record<string, string> = {
      keyText: key.publicArmored,
      certifyUserIds: `Dev <${address}>`,
      licence: "GPL-3.0-or-later",
      projectUrls: "https://github.com/dev/module",
      attestOpenSource: "on",
      attestNotCommercial: "on",
      attestAgreement: "on",
      ...fields,
    };
    return [...Object.entries(values).map(([name, value]) => ({ name, value })), ...extra];
  }

  const agreementPart = (content: Uint8Array = AGREEMENT_PDF): MultipartPart => ({ name: "agreement", filename: "Signed agreement.pdf", content });
  const signaturePart = (content: Uint8Array): MultipartPart => ({ name: "signature", filename: "agreement.pdf.asc", content });

  it("keeps a valid agreement when the signature is missing, names it, and uses it on the next try; then nothing is left", async () => {
    const address = "held@example.org";
    const { browser, key, signature } = await applicant(address);
    const failed = await browser.postMultipart("/requests", parts(key, address, [agreementPart()]), "/requests/new");
    assert.equal(failed.statusCode, 400);
    assert.match(failed.body, /Attach the detached signature/);
    assert.match(failed.body, /<strong>Signed agreement.pdf<\/strong> \([\d.]+ KiB\) is kept — choose another file to replace it/);
    assert.match(failed.body, /<input id="agreement" name="agreement" type="file" accept="application\/pdf" aria-describedby="agreement-kept">/);
    const handle = handleIn(failed.body);
    assert.match(handle, /^[A-Za-z0-9_-]{22}$/, "the form carries a handle");
    assert.equal(await t.app.db.heldUpload.count(), 1);
    const row = await t.app.db.heldUpload.findFirstOrThrow();
    assert.notEqual(row.handleHash, handle, "only the handle's hash is stored");
    assert.equal((await heldFiles()).length, 1);
    assert.ok(!failed.body.includes(row.agreementStorageName ?? "-"), "the page never names the stored file");

    const sent = await browser.postMultipart("/requests", parts(key, address, [{ name: "heldFiles", value: handle }, signaturePart(signature)]), "/requests/new");
    assert.equal(sent.statusCode, 303, sent.body.slice(0, 1500));
    const id = String(sent.headers.location).split("/").pop() ?? "";
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    assert.equal(agreement.fileName, "Signed agreement.pdf");
    assert.equal(agreement.size, AGREEMENT_PDF.length);
    assert.equal(await t.app.db.heldUpload.count(), 0, "no held row after success");
    assert.deepEqual(await heldFiles(), [], "no held file after success");
  });

  it("keeps both files when only a declaration is wrong, and the corrected form needs no file", async () => {
    const address = "both@example.org";
    const { browser, key, signature } = await applicant(address);
    const failed = await browser.postMultipart("/requests", parts(key, address, [agreementPart(), signaturePart(signature)], { licence: "Proprietary" }), "/requests/new");
    assert.equal(failed.statusCode, 400);
    assert.match(failed.body, /Signed agreement.pdf<\/strong> \([\d.]+ KiB\) is kept/);
    assert.match(failed.body, /<strong>agreement.pdf.asc<\/strong> is kept/);
    const sent = await browser.postMultipart("/requests", parts(key, address, [{ name: "heldFiles", value: handleIn(failed.body) }]), "/requests/new");
    assert.equal(sent.statusCode, 303, sent.body.slice(0, 1500));
    assert.equal(await t.app.db.heldUpload.count(), 0);
    assert.deepEqual(await heldFiles(), []);
  });

  it("keeps nothing that failed its own check: a file that is not a PDF, a signature over other bytes", async () => {
    const address = "invalid@example.org";
    const { browser, key } = await applicant(address);
    const notPdf = await browser.postMultipart("/requests", parts(key, address, [agreementPart(Buffer.from("PK\u0003\u0004zip"))]), "/requests/new");
    assert.equal(notPdf.statusCode, 400);
    assert.equal(handleIn(notPdf.body), "");
    assert.equal(await t.app.db.heldUpload.count(), 0);
    const wrongSignature = Buffer.from(await key.sign(Buffer.from("other bytes")));
    const mismatch = await browser.postMultipart("/requests", parts(key, address, [agreementPart(), signaturePart(wrongSignature)]), "/requests/new");
    assert.equal(mismatch.statusCode, 400);
    assert.match(mismatch.body, /Signed agreement.pdf<\/strong> \([\d.]+ KiB\) is kept/);
    assert.doesNotMatch(mismatch.body, /agreement.pdf.asc<\/strong> is kept/);
    const row = await t.app.db.heldUpload.findFirstOrThrow();
    assert.equal(row.signature, null);
    await t.app.requests.held.discard(row.id);
    assert.deepEqual(await heldFiles(), []);
  });

  it("ignores another applicant's handle with a clear message, and leaves their files alone", async () => {
    const dev = await applicant("owner-of-files@example.org");
    const failed = await dev.browser.postMultipart("/requests", parts(dev.key, "owner-of-files@example.org", [agreementPart(), signaturePart(dev.signature)], { licence: "" }), "/requests/new");
    const handle = handleIn(failed.body);
    assert.ok(handle);
    const mallory = await applicant("mallory@example.org");
    const stolen = await mallory.browser.postMultipart("/requests", parts(mallory.key, "mallory@example.org", [{ name: "heldFiles", value: handle }]), "/requests/new");
    assert.equal(stolen.statusCode, 400);
    assert.match(stolen.body, new RegExp(HELD_NOTICE_GONE));
    assert.match(stolen.body, /Attach the executed Key Signing Agreement/);
    assert.doesNotMatch(stolen.body, /Signed agreement.pdf/);
    assert.equal(handleIn(stolen.body), "");
    assert.equal(await t.app.db.request.count({ where: { applicant: { email: "mallory@example.org" } } }), 0);
    // The owner's set is untouched and still works for them.
    const sent = await dev.browser.postMultipart("/requests", parts(dev.key, "owner-of-files@example.org", [{ name: "heldFiles", value: handle }]), "/requests/new");
    assert.equal(sent.statusCode, 303, sent.body.slice(0, 1500));
    assert.equal(await t.app.db.heldUpload.count(), 0);
    assert.deepEqual(await heldFiles(), []);
  });

  it("forgets kept files after an hour: the next try says so, and the sweep deletes rows and files", async () => {
    const address = "expiry@example.org";
    const { browser, key, signature } = await applicant(address);
    const first = await browser.postMultipart("/requests", parts(key, address, [agreementPart(), signaturePart(signature)], { licence: "" }), "/requests/new");
    const second = await browser.postMultipart("/requests", parts(key, address, [agreementPart(), signaturePart(signature)], { licence: "" }), "/requests/new");
    assert.equal(await t.app.db.heldUpload.count(), 2);
    assert.equal((await heldFiles()).length, 2);
    const start = t.clock.now;
    try {
      t.clock.now = new Date(start.getTime() + 61 * 60_000);
      const late = await browser.postMultipart("/requests", parts(key, address, [{ name: "heldFiles", value: handleIn(first.body) }]), "/requests/new");
      assert.equal(late.statusCode, 400);
      assert.match(late.body, /kept for an hour and have been deleted/);
      assert.equal(await t.app.db.heldUpload.count(), 1, "the expired set used is deleted at once");
      assert.ok(handleIn(second.body));
      assert.equal(await t.app.requests.held.sweep(), 1);
      assert.equal(await t.app.db.heldUpload.count(), 0);
      assert.deepEqual(await heldFiles(), []);
    } finally {
      t.clock.now = start;
    }
  });

  it(`holds at most ${MAX_HELD_SETS} sets per applicant, dropping the oldest with its file`, async () => {
    const address = "many@example.org";
    const { browser, key } = await applicant(address);
    const handles: string[] = [];
    for (let i = 0; i < MAX_HELD_SETS + 2; i++) {
      t.clock.now = new Date(t.clock.now.getTime() + 1000);
      const failed = await browser.postMultipart("/requests", parts(key, address, [agreementPart()]), "/requests/new");
      handles.push(handleIn(failed.body));
    }
    const applicantId = (await t.app.db.applicant.findUniqueOrThrow({ where: { email: address } })).id;
    assert.equal(await t.app.db.heldUpload.count({ where: { applicantId } }), MAX_HELD_SETS);
    assert.equal((await heldFiles()).length, MAX_HELD_SETS);
    const oldest = await browser.postMultipart("/requests", parts(key, address, [{ name: "heldFiles", value: handles[0] ?? "" }]), "/requests/new");
    assert.match(oldest.body, new RegExp(HELD_NOTICE_GONE));
    // A process stopped between a file and its row leaves a file no row names: the sweep removes it once it is old.
    await t.app.db.heldUpload.deleteMany({ where: { applicantId } });
    const start = t.clock.now;
    try {
      t.clock.now = new Date(Date.now() + 2 * 3_600_000);
      assert.equal(await t.app.requests.held.sweep(), MAX_HELD_SETS, "files no row names are swept");
    } finally {
      t.clock.now = start;
    }
    assert.deepEqual(await heldFiles(), []);
  });

  it("keeps files of a revision for that revision only, and uses them there", async () => {
    const address = "reviser@example.org";
    const { browser, key, signature } = await applicant(address);
    const created = await browser.postMultipart("/requests", parts(key, address, [agreementPart(), signaturePart(signature)]), "/requests/new");
    const id = String(created.headers.location).split("/").pop() ?? "";
    await t.app.db.$transaction((tx) =>
      applyTransition(tx, { requestId: id, event: "request_changes", actor: { type: "staff", id: "staff-1", ip: null }, now: t.clock.now, data: { reason: "Sign page 2." } }),
    );
    const version = String((await t.app.db.request.findUniqueOrThrow({ where: { id } })).version);
    const revised = Buffer.concat([AGREEMENT_PDF, Buffer.from("% page 2 signed\n%%EOF\n")]);
    const revisedSignature = Buffer.from(await key.sign(revised));
    const failed = await browser.postMultipart(`/requests/${id}/revise`, [{ name: "version", value: version }, ...parts(key, address, [agreementPart(revised)], { licence: "" })], `/requests/${id}`);
    assert.equal(failed.statusCode, 400);
    const handle = handleIn(failed.body);
    assert.ok(handle);
    // The same handle on a new-request form is not that form's.
    const otherKey = await makeTestKey([{ name: "Dev", email: address }]);
    const elsewhere = await browser.postMultipart("/requests", parts(otherKey, address, [{ name: "heldFiles", value: handle }], { licence: "" }), "/requests/new");
    assert.match(elsewhere.body, new RegExp(HELD_NOTICE_GONE));
    const sent = await browser.postMultipart(
      `/requests/${id}/revise`,
      [{ name: "version", value: version }, ...parts(key, address, [{ name: "heldFiles", value: handle }, signaturePart(revisedSignature)])],
      `/requests/${id}`,
    );
    assert.equal(sent.statusCode, 303, sent.body.slice(0, 1500));
    const latest = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id }, orderBy: { revision: "desc" } });
    assert.equal(latest.size, revised.length);
    assert.equal(await t.app.db.heldUpload.count(), 0);
    assert.deepEqual(await heldFiles(), []);
  });
});
