/**
 * "Check a module": a visitor's module.sig (and the module's .tgz) judged with this portal's
 * keys only, on the page and as JSON; and every bound on the upload, each refused with a
 * message a person can act on, leaving no row and no file behind.
 */
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { Browser, errorLines, multipartBody, type MultipartPart } from "../helpers/http.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { moduleTgz, signModule, tar, tgz } from "../helpers/module-archive.ts";
import { submitRequest, traces } from "../helpers/requests.ts";

const FILES = { "module.xml": "<module><rawname>hello</rawname></module>\n", "Hello.class.php": "<?php // hello\n", "views/main.php": "<p>hello</p>\n" };

interface JsonCheck {
  verdict: string;
  reason: string;
  freepbx: { status: number; names: string[]; details: string[] };
  issuer: string | null;
  signer: { fingerprint: string; signingKey: string; hash: string; signedAt: string } | null;
  standing: { fingerprint: string; state: string; statusUrl: string; periods: Array<{ state: string; certifiedAt: string; expiresAt: string | null; revokedAt: string | null; reasonCode: string | null; reason: string | null }> } | null;
  moduleSig: { version: string; type: string; signedWith: string; listed: number } | null;
  archive: { module: string; entries: number; unpackedBytes: number; files: Array<{ path: string; result: string }>; unlisted: Array<{ path: string; official: string | null }> } | null;
  notes: string[];
}

/** The page's text as a person reads it (handlebars escapes quotes). */
const unescaped = (html: string) => html.replaceAll("&quot;", '"').replaceAll("&#x27;", "'").replaceAll("&#x3D;", "=").replaceAll("&#x60;", "`").replaceAll("&amp;", "&");

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name)).sort();
}

describe("checking a module", () => {
  let t: TestApp;
  let developer: TestKey;
  let fingerprint: string;
  let moduleSig: Buffer;
  let requestId: string;

  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
    const submitted = await submitRequest(t, "dev@example.org", "Dee Veloper");
    requestId = submitted.id;
    developer = submitted.key;
    ({ fingerprint } = await certifyRequest(t, requestId));
    moduleSig = await signModule(developer.privateArmored, FILES, new Date(t.clock.now.getTime() - 1_800_000));
  });
  after(async () => t.close());

  const parts = (sig: Uint8Array, archive?: Uint8Array): MultipartPart[] => [
    { name: "moduleSig", filename: "module.sig", content: sig },
    ...(archive ? [{ name: "archive", filename: "hello-1.0.tgz", content: archive }] : []),
  ];

  /** The machine route, as `curl -F` sends it: no cookie, no token. */
  async function asScript(sig: Uint8Array, archive?: Uint8Array) {
    const { body, contentType } = multipartBody(parts(sig, archive));
    const response = await t.app.inject({ method: "POST", url: "/check-module/json", headers: { "content-type": contentType }, payload: body });
    return { response, json: response.json() as JsonCheck & { error?: { status: number; code: string; message: string } } };
  }

  it("shows a module signed with a certified key as trusted, the signer linked to its status page, and every listed file matching", async () => {
    const visitor = new Browser(t.app);
    const form = await visitor.get("/check-module");
    assert.equal(form.statusCode, 200);
    assert.match(form.body, /name="moduleSig" type="file" required/);
    assert.match((await visitor.get("/")).body, /<a href="\/check-module">Check a module<\/a>/, "linked from the header and the landing page");
    const page = await visitor.postMultipart("/check-module", parts(moduleSig, moduleTgz("hello", FILES)), "/check-module");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<strong>Trusted<\/strong>/);
    assert.match(page.body, /all 3 listed files match/);
    assert.match(page.body, new RegExp(`<a href="/keys/${fingerprint}" class="fingerprint">${formatFingerprint(fingerprint)}</a>`));
    assert.match(page.body, /<span class="state state-certified">Certified<\/span>/);
    assert.match(page.body, /<td>2026-11-24<\/td><td>2028-11-23<\/td><td>Certified<\/td>/);
    assert.match(page.body, /Module <code>hello<\/code>: 3 listed file\(s\) match\./);
  });

  it("answers scripts with the documented JSON, on the page's route when asked and on the route without a token", async () => {
    const archive = moduleTgz("hello", { ...FILES, "README.txt": "read me\n", "extra.php": "<?php // not signed\n" });
    const { response, json } = await asScript(moduleSig, archive);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers["content-type"]), /^application\/json/);
    assert.equal(json.verdict, "trusted");
    assert.deepEqual(json.freepbx, { status: 129, names: ["GOOD", "TRUSTED"], details: [] });
    assert.equal(json.signer?.fingerprint, fingerprint);
    assert.match(json.signer?.hash ?? "", /^SHA-(256|512)$/);
    assert.equal(json.standing?.state, "certified");
    assert.equal(json.standing?.statusUrl, `/keys/${fingerprint}`);
    assert.deepEqual(json.moduleSig, { version: "2", type: "public", signedWith: fingerprint, listed: 3 });
    assert.deepEqual(json.archive?.files, [
      { path: "Hello.class.php", result: "ok" },
      { path: "module.xml", result: "ok" },
      { path: "views/main.php", result: "ok" },
    ]);
    assert.deepEqual(json.archive?.unlisted, [
      { path: "README.txt", official: "*.txt" },
      { path: "extra.php", official: null },
    ]);
    const visitor = new Browser(t.app);
    const asked = await visitor.postMultipart("/check-module?format=json", parts(moduleSig), "/check-module");
    assert.equal(asked.statusCode, 200);
    assert.equal((asked.json() as JsonCheck).verdict, "trusted");
  });

  it("names the altered and the missing file when the archive differs from module.sig", async () => {
    const archive = moduleTgz("hello", { "module.xml": FILES["module.xml"], "Hello.class.php": "<?php system($_GET['x']);\n" });
    const { json } = await asScript(moduleSig, archive);
    assert.equal(json.verdict, "tampered");
    assert.match(json.reason, /views\/main\.php is missing|Hello\.class\.php was altered/);
    assert.deepEqual(json.archive?.files.filter((file) => file.result !== "ok"), [
      { path: "Hello.class.php", result: "altered" },
      { path: "views/main.php", result: "missing" },
    ]);
    const page = await new Browser(t.app).postMultipart("/check-module", parts(moduleSig, archive), "/check-module");
    assert.match(page.body, /<strong>Tampered with<\/strong>/);
    assert.match(page.body, /<tr><td><code>Hello\.class\.php<\/code><\/td><td>Altered<\/td><\/tr>/);
    assert.match(page.body, /<tr><td><code>views\/main\.php<\/code><\/td><td>Missing<\/td><\/tr>/);
  });

  it("judges a module.sig alone and says the files were not checked", async () => {
    const { json } = await asScript(moduleSig);
    assert.equal(json.verdict, "trusted");
    assert.match(json.reason, /the files were not checked/);
    assert.equal(json.archive, null);
    const page = await new Browser(t.app).postMultipart("/check-module", parts(moduleSig), "/check-module");
    assert.match(page.body, /Not checked: add the module's <code>\.tgz<\/code>/);
  });

  it("uses no key from the uploader: a signer the portal never certified is unknown", async () => {
    const stranger = await makeTestKey([{ name: "Stranger", email: "stranger@example.net" }]);
    const sig = await signModule(stranger.privateArmored, FILES, new Date(t.clock.now.getTime() - 1_800_000));
    const { json } = await asScript(sig, moduleTgz("hello", FILES));
    assert.equal(json.verdict, "invalid");
    assert.match(json.reason, /which this portal does not publish/);
    assert.equal(json.signer, null);
    assert.equal(json.standing, null);
    assert.equal(json.issuer?.slice(-16), stranger.fingerprint.slice(-16));
  });

  it("refuses every unbounded or hostile upload with a 4xx that says what to do, and leaves no row or file", async () => {
    const before = { rows: await traces(t), files: await filesUnder(t.dataDir) };
    const bomb = tgz([{ name: "hello/", type: "5" }, { name: "hello/zeros.bin", content: Buffer.alloc(20 * 1024 * 1024) }]);
    const many = tgz(Array.from({ length: 20_001 }, (_, i) => ({ name: `hello/f${i}` })));
    const whole = moduleTgz("hello", FILES);
    const cases: Array<[string, Uint8Array, Uint8Array | undefined, number, RegExp]> = [
      ["oversize module.sig", Buffer.alloc(2 * 1024 * 1024 + 1, 0x41), undefined, 413, /module\.sig is larger than allowed: at most 2(\.0)? MiB/],
      ["not a module.sig", Buffer.from("hello"), undefined, 422, /not one clear-signed message.*Choose the module\.sig file/],
      ["too many entries", moduleSig, many, 422, /more than 20,000 entries/],
      ["a path escape", moduleSig, tgz([{ name: "hello/" , type: "5" }, { name: "hello/../../etc/cron.d/x", content: "x" }]), 422, /"\.\." leads out of the module's directory/],
      ["an absolute path", moduleSig, tgz([{ name: "/etc/passwd", content: "x" }]), 422, /an absolute path/],
      ["a symlink out", moduleSig, moduleTgz("hello", FILES, [{ name: "hello/link", type: "2", link: "../../../etc/shadow" }]), 422, /points to \.\.\/\.\.\/\.\.\/etc\/shadow, outside the module/],
      ["a hard link out", moduleSig, moduleTgz("hello", FILES, [{ name: "hello/hard", type: "1", link: "etc/passwd" }]), 422, /outside the module's directory hello\//],
      ["a device", moduleSig, moduleTgz("hello", FILES, [{ name: "hello/dev", type: "3" }]), 422, /device, FIFO or other special file/],
      ["a gzip bomb", moduleSig, bomb, 422, /unpacks to more than 100 times its/],
      ["a truncated archive", moduleSig, whole.subarray(0, Math.floor(whole.length / 2)), 422, /The archive ends early/],
      ["not gzip", moduleSig, tar([{ name: "hello/module.xml", content: "x" }]), 422, /not a gzip-compressed tar file/],
      ["two modules", moduleSig, tgz([{ name: "hello/a", content: "x" }, { name: "other/b", content: "y" }]), 422, /outside the module's directory hello\//],
    ];
    const wrong: string[] = [];
    for (const [name, sig, archive, status, message] of cases) {
      const page = await new Browser(t.app).postMultipart("/check-module", parts(sig, archive), "/check-module");
      const { response, json } = await asScript(sig, archive);
      if (page.statusCode !== status || !message.test(unescaped(page.body))) wrong.push(`${name}: page ${page.statusCode} ${page.body.slice(0, 200)}`);
      if (!page.body.includes("Nothing was stored")) wrong.push(`${name}: page does not say nothing was stored`);
      if (response.statusCode !== status || json.error?.status !== status || !message.test(json.error.message)) wrong.push(`${name}: json ${response.statusCode} ${response.body.slice(0, 200)}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual({ rows: await traces(t), files: await filesUnder(t.dataDir) }, before, "no row and no file");
    assert.deepEqual(errorLines(t.logs), []);
  });

  it("takes the machine route without a token but only as multipart, and the page only with its token", async () => {
    const form = await t.app.inject({ method: "POST", url: "/check-module/json", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: "moduleSig=x" });
    assert.equal(form.statusCode, 415);
    assert.match((form.json() as { error: { message: string } }).error.message, /multipart\/form-data, as `curl -F` does/);
    const { body, contentType } = multipartBody(parts(moduleSig));
    const noToken = await t.app.inject({ method: "POST", url: "/check-module", headers: { "content-type": contentType }, payload: body });
    assert.equal(noToken.statusCode, 403);
    const noSig = await asScript(Buffer.alloc(0));
    assert.equal(noSig.response.statusCode, 400);
    assert.match(noSig.json.error?.message ?? "", /Choose the module's module\.sig file/);
    // The page's own route answers JSON when the request asks for it in its Accept header.
    const visitor = new Browser(t.app);
    const csrf = await visitor.csrfFrom("/check-module");
    const asked = multipartBody([{ name: "_csrf", value: csrf }, ...parts(moduleSig)]);
    const cookie = `ks_csrf=${visitor.cookie("ks_csrf")}`;
    const json = await t.app.inject({ method: "POST", url: "/check-module", headers: { cookie, accept: "application/json", "content-type": asked.contentType }, payload: asked.body });
    assert.equal(json.statusCode, 200);
    assert.equal((json.json() as JsonCheck).verdict, "trusted");
  });

  it("shows a revoked certification as revoked, with its date and the reason's label", async () => {
    const revoked = await revokeAsSoleReviewer(t, requestId, "key_compromised", "internal note");
    assert.equal(revoked.statusCode, 303);
    const { json } = await asScript(moduleSig, moduleTgz("hello", FILES));
    assert.equal(json.verdict, "revoked");
    assert.match(json.reason, /was revoked on 2026-11-24/);
    assert.equal(json.standing?.state, "revoked");
    assert.equal(json.standing?.periods[0]?.reasonCode, "key_compromised");
    assert.equal(json.standing?.periods[0]?.reason, "Key compromised");
    const page = await new Browser(t.app).postMultipart("/check-module", parts(moduleSig), "/check-module");
    assert.match(page.body, /<strong>Revoked<\/strong>/);
    assert.match(page.body, /<td>Certification revoked on 2026-11-24<\/td><td>Key compromised<\/td>/);
    assert.doesNotMatch(page.body, /internal note/);
  });
});

describe("checks per address", () => {
  it("takes 30 checks from one address in ten minutes and refuses the next with 429, on both routes", async () => {
    const t = await createTestApp();
    try {
      const { body, contentType } = multipartBody([{ name: "moduleSig", filename: "module.sig", content: Buffer.from("not a module.sig") }]);
      const send = () => t.app.inject({ method: "POST", url: "/check-module/json", headers: { "content-type": contentType }, payload: body });
      const statuses = new Set<number>();
      for (let i = 0; i < 30; i++) statuses.add((await send()).statusCode);
      assert.deepEqual([...statuses], [422]);
      const refused = await send();
      assert.equal(refused.statusCode, 429);
      assert.match((refused.json() as { error: { message: string } }).error.message, /Wait a few minutes/);
      const visitor = new Browser(t.app);
      const pages = new Set<number>();
      for (let i = 0; i < 31; i++) pages.add((await visitor.postMultipart("/check-module", [{ name: "moduleSig", filename: "module.sig", content: Buffer.from("x") }], "/check-module")).statusCode);
      assert.deepEqual([...pages], [422, 429]);
    } finally {
      await t.close();
    }
  });
});
