/**
 * Each route takes only the body it expects, and checks who asks before reading it: JSON and
 * text are refused everywhere, urlencoded and multipart only where declared, a body over the
 * route's limit is refused from its Content-Length, and an upload is never read for a visitor
 * who may not make it. "Not read" is measured: the body is a stream that counts what the server
 * pulls from it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser, errorLines, MeteredBody, multipartBody } from "../helpers/http.ts";
import { traces } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const NO_ID = "00000000-0000-4000-8000-000000000000";
const MIB = 1024 * 1024;
const BOUNDARY = "----keysign-test-boundary";
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;
const URLENCODED = "application/x-www-form-urlencoded";

/** The routes that take files; every other POST route takes an urlencoded form. */
const MULTIPART_ROUTES = ["/account/requests/:id/key-update", "/admin/settings/master-key", "/admin/settings/new-master", "/requests/:id/renew", "/admin/signing/import", "/check-module", "/requests", "/requests/:id/revise", "/requests/:id/revise/key", "/requests/:id/revise/refresh", "/requests/new", "/requests/refresh"];
/**
 * Machine APIs: an urlencoded body sent by a program without cookies, so no CSRF token (HKP's
 * `POST /pks/add`, which `gpg --send-keys` calls). Their own limit and messages are below.
 */
const MACHINE_ROUTES = ["/pks/add"];
const MACHINE_LIMIT = 3 * (MIB + 64 * 1024);
/** Machine APIs that take files (`curl -F`), answered in JSON, with no CSRF token: "Check a module" for scripts. */
const MACHINE_MULTIPART_ROUTES = ["/check-module/json"];
type Kind = "form" | "multipart" | "machine" | "machine-multipart";
const kindOf = (url: string): Kind =>
  MULTIPART_ROUTES.includes(url) ? "multipart" : MACHINE_ROUTES.includes(url) ? "machine" : MACHINE_MULTIPART_ROUTES.includes(url) ? "machine-multipart" : "form";
const takesFiles = (kind: Kind) => kind === "multipart" || kind === "machine-multipart";

const normalise = (url: string) => (url.length > 1 ? url.replace(/\/$/, "") : url);

/** The start of a multipart body: the given text fields, then the opening of one file part whose bytes follow. */
function multipartHead(fields: Array<[string, string]>, file?: string): Buffer {
  const parts = fields.map(([name, value]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`);
  if (file) parts.push(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${file}"; filename="upload.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  return Buffer.from(parts.join(""));
}

function cookies(browser: Browser, names = ["ks_session", "ks_csrf"]): string {
  return names.flatMap((name) => (browser.cookie(name) ? [`${name}=${browser.cookie(name)}`] : [])).join("; ");
}

describe("the body each route takes", () => {
  let t: TestApp;
  let admin: Browser;
  let token: string;
  let posts: Array<{ url: string; kind: Kind }>;

  before(async () => {
    t = await createTestApp({ LOG_LEVEL: "info" });
    await createStaff(t, { email: "all-roles@keysign.example", roles: ["admin", "reviewer", "signing_officer"] });
    admin = await signInStaff(t, "all-roles@keysign.example");
    token = await admin.csrfFrom("/admin");
    posts = t.app.routeTable
      .filter((route) => route.method === "POST")
      .map((route) => ({ url: normalise(route.url), kind: kindOf(normalise(route.url)) }));
  });
  after(async () => t.close());

  async function post(url: string, contentType: string | null, payload: string | Buffer): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = { cookie: cookies(admin) };
    if (contentType) headers["content-type"] = contentType;
    return t.app.inject({ method: "POST", url: url.replace(/:[A-Za-z]+/g, NO_ID), headers, payload });
  }

  it("knows every route that takes files, and the others take urlencoded forms", () => {
    assert.ok(posts.length >= 30, `only ${posts.length} POST routes`);
    assert.deepEqual(posts.filter((p) => p.kind === "multipart").map((p) => p.url).sort(), [...MULTIPART_ROUTES].sort());
    assert.deepEqual(posts.filter((p) => p.kind === "machine").map((p) => p.url), MACHINE_ROUTES);
    assert.deepEqual(posts.filter((p) => p.kind === "machine-multipart").map((p) => p.url), MACHINE_MULTIPART_ROUTES);
  });

  it("refuses JSON, text, a missing content type and the other form encoding on every POST route with 415, and creates nothing", async () => {
    const before = await traces(t);
    const jsonFile = JSON.stringify({ _csrf: token, keyFile: { type: "file", filename: "key.asc", value: "x" }, version: 1 });
    const { body: multipart, contentType: multipartType } = multipartBody([{ name: "_csrf", value: token }, { name: "version", value: "1" }]);
    const wrong: string[] = [];
    for (const route of posts) {
      const bodies: Array<[string, string | null, string | Buffer]> = [
        ["JSON", "application/json", jsonFile],
        ["text", "text/plain", `_csrf=${token}`],
        ["no content type", null, `_csrf=${token}`],
        takesFiles(route.kind) ? ["urlencoded", URLENCODED, `_csrf=${encodeURIComponent(token)}&version=1`] : ["multipart", multipartType, multipart],
      ];
      for (const [what, contentType, payload] of bodies) {
        const response = await post(route.url, contentType, payload);
        const message = {
          form: /must be sent the way its page sends it \(application\/x-www-form-urlencoded\)/,
          multipart: /must be sent the way its page sends it \(multipart\/form-data/,
          machine: /as an urlencoded form \(application\/x-www-form-urlencoded\) with the armored key in the field keytext/,
          "machine-multipart": /as multipart\/form-data, as `curl -F` does/,
        }[route.kind];
        if (response.statusCode !== 415 || !message.test(response.body)) wrong.push(`${route.url} with ${what}: ${response.statusCode}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await traces(t), before);
    assert.deepEqual(errorLines(t.logs), []);
  });

  it("checks the CSRF token on every POST route in the body it takes, with no route declaring it (403)", async () => {
    const applicant = await signInAs(t, "csrf-applicant@example.org");
    const { password } = await createStaff(t, { email: "half-signed-in@keysign.example", roles: ["reviewer"] });
    const pending = new Browser(t.app);
    assert.equal((await pending.postForm("/admin/login", { email: "half-signed-in@keysign.example", password }, "/admin/login")).headers.location, "/admin/login/totp");
    // Each route with a visitor it lets in, so that only the token is missing.
    const visitorFor = (url: string) => (/^\/(requests|account\/addresses(\/remove)?$|account\/requests)/.test(url) ? applicant : /^\/admin\/(login\/totp|enrol)$/.test(url) ? pending : admin);
    const before = await traces(t);
    const wrong: string[] = [];
    // Machine APIs take no token by design; their test (key-updates.test.ts) shows they need no cookie.
    for (const route of posts.filter((post) => post.kind !== "machine" && post.kind !== "machine-multipart")) {
      const { body, contentType } = route.kind === "form" ? { body: "version=1&reason=x&email=a%40b.org&address=a%40b.org&token=x", contentType: URLENCODED } : multipartBody([{ name: "version", value: "1" }]);
      const response = await t.app.inject({
        method: "POST",
        url: route.url.replace(/:[A-Za-z]+/g, NO_ID),
        headers: { cookie: cookies(visitorFor(route.url)), "content-type": contentType },
        payload: body,
      });
      if (response.statusCode !== 403 || !/This form has expired/.test(response.body)) wrong.push(`${route.url}: ${response.statusCode}`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await traces(t), before);
  });

  it("refuses a body over the route's limit from its Content-Length, without reading it (413)", async () => {
    const wrong: string[] = [];
    for (const route of posts) {
      // Over 64 KiB for a form; over every multipart limit (the largest is a 64 MiB result file).
      const total = { form: 64 * 1024 + 1, multipart: 80 * MIB, machine: MACHINE_LIMIT + 1, "machine-multipart": 80 * MIB }[route.kind];
      const head = takesFiles(route.kind) ? multipartHead([["_csrf", token]], "upload") : Buffer.from(`_csrf=${encodeURIComponent(token)}&x=`);
      const body = new MeteredBody(head, total);
      const response = await t.app.inject({
        method: "POST",
        url: route.url.replace(/:[A-Za-z]+/g, NO_ID),
        headers: { cookie: cookies(admin), "content-type": takesFiles(route.kind) ? MULTIPART : URLENCODED, "content-length": String(total) },
        payload: body,
      });
      if (response.statusCode !== 413 || !/larger than allowed here/.test(response.body) || body.pulled > 0) wrong.push(`${route.url}: ${response.statusCode}, ${body.pulled} bytes read`);
      if (response.headers.connection !== "close") wrong.push(`${route.url}: the connection stays open for the rest of the upload`);
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(errorLines(t.logs), []);
  });

  it("takes an urlencoded form of up to 64 KiB, and refuses 80,000 fields as a form or as 2.2 MB of JSON before reading them", async () => {
    const visitor = new Browser(t.app);
    const csrf = await visitor.csrfFrom("/sign-in");
    const prefix = `_csrf=${encodeURIComponent(csrf)}&address=not-an-address&pad=`;
    const fits = prefix + "x".repeat(64 * 1024 - prefix.length);
    const headers = { cookie: cookies(visitor, ["ks_csrf"]), "content-type": URLENCODED };
    const taken = await t.app.inject({ method: "POST", url: "/sign-in", headers, payload: fits });
    assert.equal(taken.statusCode, 400, "a 64 KiB form is read and its address refused");
    assert.match(taken.body, /address/i);

    const fields = Buffer.from(Array.from({ length: 80_000 }, (_, i) => `f${i}=x`).join("&"));
    assert.ok(fields.length > 500_000);
    const body = new MeteredBody(fields, fields.length);
    const flood = await t.app.inject({ method: "POST", url: "/sign-in", headers: { ...headers, "content-length": String(fields.length) }, payload: body });
    assert.equal(flood.statusCode, 413);
    assert.equal(body.pulled, 0);

    const json = Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 80_000 }, (_, i) => [`field-${i}`, "x".repeat(12)]))));
    assert.ok(json.length > 2_000_000);
    const jsonBody = new MeteredBody(json, json.length);
    const asJson = await t.app.inject({ method: "POST", url: "/requests", headers: { cookie: cookies(admin), "content-type": "application/json", "content-length": String(json.length) }, payload: jsonBody });
    assert.equal(asJson.statusCode, 415);
    assert.equal(jsonBody.pulled, 0);
  });

  it("refuses a multipart body that does not say its length (411), before reading it", async () => {
    const dev = await signInAs(t, "length@example.org");
    const csrf = await dev.csrfFrom("/requests/new");
    const body = new MeteredBody(multipartHead([["_csrf", csrf]], "keyFile"), 4 * MIB);
    const response = await t.app.inject({ method: "POST", url: "/requests/new", headers: { cookie: cookies(dev), "content-type": MULTIPART, "transfer-encoding": "chunked" }, payload: body });
    assert.equal(response.statusCode, 411);
    assert.match(response.body, /did not say how large it is/);
    assert.equal(body.pulled, 0);
  });
});

describe("an upload is refused before it is read when its sender may not make it", () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp({ LOG_LEVEL: "info" });
  });
  after(async () => t.close());

  async function send(url: string, cookie: string, head: Buffer, total: number) {
    const body = new MeteredBody(head, total);
    const response = await t.app.inject({ method: "POST", url, headers: { cookie, "content-type": MULTIPART, "content-length": String(total) }, payload: body });
    return { response, pulled: body.pulled };
  }

  it("refuses a 73 MB multipart POST to /sign-in without a cookie, having read none of it", async () => {
    const before = await traces(t);
    const { response, pulled } = await send("/sign-in", "", multipartHead([["address", "dev@example.org"]], "file"), 73 * MIB);
    assert.equal(response.statusCode, 415);
    assert.equal(pulled, 0);
    assert.equal(response.headers.connection, "close");
    assert.deepEqual(await traces(t), before);
    assert.deepEqual(errorLines(t.logs), []);
  });

  it("sends a signed-out visitor to sign in before reading an upload that is within the limit, even with a valid CSRF token", async () => {
    const visitor = new Browser(t.app);
    const csrf = await visitor.csrfFrom("/sign-in");
    const { response, pulled } = await send("/requests", cookies(visitor, ["ks_csrf"]), multipartHead([["_csrf", csrf]], "agreement"), 5 * MIB);
    assert.equal(response.statusCode, 303);
    assert.equal(response.headers.location, "/sign-in");
    assert.ok(pulled < 256 * 1024, `${pulled} bytes of the upload were read`);
  });

  it("refuses staff without the role before reading the result file", async () => {
    await createStaff(t, { email: "reviewer-only@keysign.example", roles: ["reviewer"] });
    const reviewer = await signInStaff(t, "reviewer-only@keysign.example");
    const csrf = await reviewer.csrfFrom("/admin");
    const { response, pulled } = await send("/admin/signing/import", cookies(reviewer), multipartHead([["_csrf", csrf]], "result"), 20 * MIB);
    assert.equal(response.statusCode, 403);
    assert.match(response.body, /Signing officer role/i);
    assert.ok(pulled < 256 * 1024, `${pulled} bytes of the upload were read`);
  });

  it("refuses a file part that comes before the CSRF token, even when a valid token follows it", async () => {
    const dev = await signInAs(t, "order@example.org");
    const csrf = await dev.csrfFrom("/requests/new");
    const before = await traces(t);
    const { body, contentType } = multipartBody([{ name: "keyFile", filename: "key.asc", content: Buffer.alloc(4096, 0x41) }, { name: "_csrf", value: csrf }]);
    const response = await t.app.inject({ method: "POST", url: "/requests/new", headers: { cookie: cookies(dev), "content-type": contentType }, payload: body });
    assert.equal(response.statusCode, 403);
    assert.match(response.body, /This form has expired/);
    assert.doesNotMatch(response.body, /not an OpenPGP public key/, "the file was not read as a key");

    const upload = await send("/requests", cookies(dev), multipartHead([], "agreement"), 9 * MIB);
    assert.equal(upload.response.statusCode, 403);
    assert.ok(upload.pulled < 256 * 1024, `${upload.pulled} bytes of the upload were read`);
    assert.deepEqual(await traces(t), before);
    assert.deepEqual(errorLines(t.logs), []);
  });

  it("checks the CSRF token before reading a file part: a wrong token stops the upload at its first part", async () => {
    const dev = await signInAs(t, "wrong-token@example.org");
    await dev.csrfFrom("/requests/new");
    const { response, pulled } = await send("/requests", cookies(dev), multipartHead([["_csrf", "not-the-token"]], "agreement"), 9 * MIB);
    assert.equal(response.statusCode, 403);
    assert.ok(pulled < 256 * 1024, `${pulled} bytes of the upload were read`);
  });
});
