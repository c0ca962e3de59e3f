/**
 * A multipart body that cannot be read (truncated, a wrong, missing or repeated boundary, an
 * upload the client abandons) is a 400 with a message a person can act on, logged at info
 * level: never a 500, never a stack trace at error level, on any POST route, signed in or not.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser, errorLines } from "../helpers/http.ts";
import { traces } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const NO_ID = "00000000-0000-4000-8000-000000000000";
const B = "keysign-boundary";
const UNREADABLE = /The form arrived incomplete or garbled, so it could not be read\. Nothing was stored\. Reload the page and submit it again\./;

/** A well-formed form: the token first, one text field, one file. */
function wellFormed(csrf: string, file: string): string {
  return (
    `--${B}\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\n${csrf}\r\n` +
    `--${B}\r\nContent-Disposition: form-data; name="version"\r\n\r\n1\r\n` +
    `--${B}\r\nContent-Disposition: form-data; name="${file}"; filename="upload.bin"\r\nContent-Type: application/octet-stream\r\n\r\n${"A".repeat(2000)}\r\n` +
    `--${B}--\r\n`
  );
}

/** Each way a multipart body arrives broken: its content type, its bytes, and whether the parser must call it unreadable. */
function malformed(csrf: string, file: string): Array<{ name: string; contentType: string; body: string; unreadable: boolean }> {
  const good = wellFormed(csrf, file);
  return [
    { name: "truncated in a file part", contentType: `multipart/form-data; boundary=${B}`, body: good.slice(0, good.length - 800), unreadable: true },
    { name: "truncated in the token", contentType: `multipart/form-data; boundary=${B}`, body: good.slice(0, 70), unreadable: true },
    { name: "without its closing boundary", contentType: `multipart/form-data; boundary=${B}`, body: good.replace(`--${B}--\r\n`, ""), unreadable: true },
    { name: "with a wrong boundary", contentType: "multipart/form-data; boundary=not-the-one-used", body: good, unreadable: true },
    { name: "without a boundary", contentType: "multipart/form-data", body: good, unreadable: true },
    { name: "with an empty boundary", contentType: "multipart/form-data; boundary=", body: good, unreadable: true },
    { name: "with two boundary parameters", contentType: `multipart/form-data; boundary=other; boundary=${B}`, body: good, unreadable: false },
    { name: "with every delimiter doubled", contentType: `multipart/form-data; boundary=${B}`, body: good.replaceAll(`--${B}\r\n`, `--${B}\r\n--${B}\r\n`), unreadable: false },
    { name: "of random bytes", contentType: `multipart/form-data; boundary=${B}`, body: "\u0000\u0001\u0002 not multipart at all", unreadable: true },
  ];
}

describe("malformed multipart bodies", () => {
  let t: TestApp;
  let dev: Browser;
  let staff: Browser;

  before(async () => {
    t = await createTestApp({ LOG_LEVEL: "info" });
    dev = await signInAs(t, "dev@example.org");
    await createStaff(t, { email: "officer-admin@keysign.example", roles: ["admin", "signing_officer"] });
    staff = await signInStaff(t, "officer-admin@keysign.example");
  });
  after(async () => t.close());

  function cookie(browser: Browser): string {
    return ["ks_session", "ks_csrf"].flatMap((name) => (browser.cookie(name) ? [`${name}=${browser.cookie(name)}`] : [])).join("; ");
  }

  const routes = [
    { url: "/requests/new", file: "keyFile", who: "applicant" },
    { url: "/requests", file: "agreement", who: "applicant" },
    { url: `/requests/${NO_ID}/revise/key`, file: "keyFile", who: "applicant" },
    { url: `/requests/${NO_ID}/revise`, file: "agreement", who: "applicant" },
    { url: "/admin/settings/master-key", file: "masterKeyFile", who: "staff" },
    { url: "/admin/signing/import", file: "result", who: "staff" },
  ] as const;

  it("answers 400 with an actionable message on every route that takes files, logging no error and storing nothing", async () => {
    const before = await traces(t);
    const mark = t.logs.length;
    const wrong: string[] = [];
    for (const route of routes) {
      const browser = route.who === "applicant" ? dev : staff;
      const csrf = await browser.csrfFrom(route.who === "applicant" ? "/requests/new" : "/admin/settings");
      for (const variant of malformed(csrf, route.file)) {
        const response = await t.app.inject({
          method: "POST",
          url: route.url,
          headers: { cookie: cookie(browser), "content-type": variant.contentType, "content-length": String(Buffer.byteLength(variant.body)) },
          payload: variant.body,
        });
        // A repeated boundary may still parse: then the form's own rules answer, with a 4xx.
        const ok = variant.unreadable ? response.statusCode === 400 && UNREADABLE.test(response.body) : response.statusCode >= 400 && response.statusCode < 500;
        if (!ok) wrong.push(`${route.url} ${variant.name}: ${response.statusCode}`);
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await traces(t), before);
    assert.deepEqual(errorLines(t.logs.slice(mark)), []);
    const refusals = t.logs.slice(mark).map((line) => JSON.parse(line)).filter((line) => line.code === "KEYSIGN_ERR_FORM_MALFORMED");
    assert.ok(refusals.length >= routes.length * 6, `${refusals.length} refusals logged`);
    assert.ok(refusals.every((line) => line.level === 30 && line.status === 400 && !("err" in line)), "each refusal is one info line without a stack");
  });

  it("never answers 5xx to a malformed body on any POST route, signed out", async () => {
    const visitor = new Browser(t.app);
    const csrf = await visitor.csrfFrom("/sign-in");
    const before = await traces(t);
    const mark = t.logs.length;
    const wrong: string[] = [];
    for (const route of t.app.routeTable.filter((r) => r.method === "POST")) {
      for (const variant of malformed(csrf, "file")) {
        for (const cookies of ["", `ks_csrf=${visitor.cookie("ks_csrf")}`]) {
          const response = await t.app.inject({
            method: "POST",
            url: route.url.replace(/:[A-Za-z]+/g, NO_ID),
            headers: { cookie: cookies, "content-type": variant.contentType, "content-length": String(Buffer.byteLength(variant.body)) },
            payload: variant.body,
          });
          if (response.statusCode >= 500) wrong.push(`${route.url} ${variant.name}: ${response.statusCode}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
    assert.deepEqual(await traces(t), before);
    assert.deepEqual(errorLines(t.logs.slice(mark)), []);
  });

  it("logs an upload the client abandons half-way at info level, and stores nothing", async () => {
    const address = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = new URL(address);
    const csrf = await dev.csrfFrom("/requests/new");
    const before = await traces(t);
    const body = wellFormed(csrf, "agreement");
    const seen = t.logs.length;
    const socket = connect({ port: Number(port), host: "127.0.0.1" });
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    const head = [
      "POST /requests HTTP/1.1",
      "Host: 127.0.0.1",
      `Cookie: ${cookie(dev)}`,
      `Content-Type: multipart/form-data; boundary=${B}`,
      `Content-Length: ${Buffer.byteLength(body) + 100_000}`,
      "",
      "",
    ].join("\r\n");
    socket.write(head + body.slice(0, body.length - 900));
    // The server has the token and part of the file; then the client goes away.
    await waitFor(() => t.logs.slice(seen).some((line) => line.includes('"msg":"incoming request"') && line.includes('"POST"')));
    socket.destroy();
    const refused = () => t.logs.slice(seen).map((line) => JSON.parse(line)).find((line) => line.code === "KEYSIGN_ERR_FORM_MALFORMED");
    await waitFor(() => refused() !== undefined || errorLines(t.logs.slice(seen)).length > 0);
    assert.deepEqual(errorLines(t.logs.slice(seen)), []);
    assert.equal(refused()?.level, 30);
    assert.equal(refused()?.status, 400);
    assert.deepEqual(await traces(t), before);
  });
});

/** Yields to the event loop until `done` holds (the server works in this same process). */
async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(done(), "the server did not get there");
}
