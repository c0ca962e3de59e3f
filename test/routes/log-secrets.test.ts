/**
 * One-time link tokens never reach a log line, at any level: each kind of link is issued,
 * opened and used with the log at trace, and no line holds its token. Pages and downloads are
 * never cached, and the data directory is readable by the portal's user only.
 */
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { connect, type AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { findLink, TestSmtpServer } from "../helpers/smtp.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const PASSWORD = "a long and unusual staff passphrase 7";

function pathOf(link: string): string {
  const url = new URL(link);
  return url.pathname + url.search;
}

function tokenOf(link: string): string {
  return new URL(link).searchParams.get("token") ?? "";
}

describe("secrets stay out of logs", () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ SMTP_URL: await smtp.start(), LOG_LEVEL: "trace" });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });

  /** Delivers what is due and returns the link the newest email to `address` holds. */
  async function mailedLink(address: string, prefix: string): Promise<string> {
    await t.app.mail.deliverDue();
    const mail = smtp.received.filter((received) => received.to.includes(address)).at(-1);
    assert.ok(mail, `an email reached ${address}`);
    return findLink(mail, prefix);
  }

  it("logs no token of a first-admin setup, staff invitation, sign-in or address confirmation link", async () => {
    const tokens: Record<string, string> = {};

    const setup = (await t.app.staffAuth.firstStartSetupLink())!;
    tokens.setup = tokenOf(setup);
    const founder = new Browser(t.app);
    const created = await founder.postForm("/admin/setup", { token: tokens.setup, email: "founder@example.org", password: PASSWORD, passwordAgain: PASSWORD }, pathOf(setup));
    assert.equal(created.statusCode, 303);

    await createStaff(t, { email: "admin@example.org", roles: ["admin"] });
    const admin = await signInStaff(t, "admin@example.org");
    assert.equal((await admin.postForm("/admin/staff/invite", { email: "invitee@example.org", roles: ["reviewer"] }, "/admin/staff")).statusCode, 303);
    const invite = await mailedLink("invitee@example.org", "/admin/invite?token=");
    tokens.invite = tokenOf(invite);
    assert.equal((await new Browser(t.app).get(pathOf(invite))).statusCode, 200);

    const applicant = new Browser(t.app);
    assert.equal((await applicant.postForm("/sign-in", { address: "dev@example.org" }, "/sign-in")).statusCode, 200);
    const signIn = await mailedLink("dev@example.org", "/sign-in/link?token=");
    tokens.signIn = tokenOf(signIn);
    assert.equal((await applicant.postForm("/sign-in/link", { token: tokens.signIn }, pathOf(signIn))).statusCode, 303);

    assert.equal((await applicant.postForm("/account/addresses", { address: "work@example.org" }, "/account")).statusCode, 200);
    const confirm = await mailedLink("work@example.org", "/account/addresses/confirm?token=");
    tokens.confirm = tokenOf(confirm);
    assert.equal((await applicant.postForm("/account/addresses/confirm", { token: tokens.confirm }, pathOf(confirm))).statusCode, 200);

    // A mangled link, or a token as the whole query, matches nothing to keep either.
    assert.equal((await new Browser(t.app).get(`/sign-in/link?${tokens.signIn}`)).statusCode < 500, true);
    assert.equal((await new Browser(t.app).get(`/sign-in/link%3Ftoken=${tokens.signIn}`)).statusCode, 404);
    assert.ok(t.logs.some((line) => line.includes('"url":"(no route)"')), "the unmatched path is logged as such");
    // A malformed request (a control byte in a header) is answered 400, its raw bytes logged nowhere.
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = t.app.server.address() as AddressInfo;
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => socket.write(`GET /sign-in/link?token=${tokens.signIn} HTTP/1.1\r\nHost: x\r\nCookie: ks_session=${tokens.invite}\r\nX-Bad: a\u0001b\r\n\r\n`));
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      socket.on("close", () => resolve(text));
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.deepEqual(t.logs.filter((line) => line.includes("rawPacket")), [], "the raw request is not logged, not even as bytes");

    // The links' requests were logged, with the parameter named and its value left out.
    for (const prefix of ["/admin/setup", "/admin/invite", "/sign-in/link", "/account/addresses/confirm"]) {
      assert.ok(t.logs.some((line) => line.includes(`"url":"${prefix}?token=…"`)), `the request to ${prefix} is in the log`);
    }
    for (const [kind, token] of Object.entries(tokens)) {
      assert.ok(token.length >= 16, `${kind} token read from its link`);
      const leaks = t.logs.filter((line) => line.includes(token));
      assert.deepEqual(leaks, [], `no log line holds the ${kind} token`);
    }
  });

  it("lets no signed-in page, form page or download be cached", async () => {
    const { id, applicant } = await submitRequest(t, "cache@example.org");
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    const staff = await signInStaff(t, "admin@example.org");
    for (const [who, browser, url] of [
      ["anyone", new Browser(t.app), "/"],
      ["anyone", new Browser(t.app), "/sign-in"],
      ["applicant", applicant, "/requests"],
      ["applicant", applicant, `/requests/${id}`],
      ["applicant", applicant, `/requests/${id}/agreements/${agreement.id}`],
      ["staff", staff, "/admin/settings"],
      ["staff", staff, `/admin/requests/${id}/agreements/${agreement.id}`],
      ["staff", staff, "/admin/signing/queue-key.asc"],
    ] as const) {
      const response = await browser.get(url);
      assert.ok(response.statusCode < 400, `${who} ${url}: ${response.statusCode}`);
      assert.equal(response.headers["cache-control"], "no-store", `${who} ${url}`);
    }
    // Static assets keep their own caching.
    assert.notEqual((await new Browser(t.app).get("/public/css/keysign.css")).headers["cache-control"], "no-store");
  });

  it("keeps the data directory to the portal's own user: directories 0700, files 0600", async () => {
    const found: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        const mode = (await stat(full)).mode & 0o777;
        const expected = entry.isDirectory() ? 0o700 : 0o600;
        if (mode !== expected) found.push(`${path.relative(t.dataDir, full)} ${mode.toString(8)}`);
        if (entry.isDirectory()) await walk(full);
      }
    };
    assert.equal((await stat(t.dataDir)).mode & 0o777, 0o700);
    await walk(t.dataDir);
    assert.deepEqual(found, []);
    // The database, its WAL, an agreement and the queue key were all there to be checked.
    const names = await readdir(t.dataDir);
    assert.ok(["keysign.db", "keysign.db-wal", "queue-key.asc", "secrets.json"].every((name) => names.includes(name)), names.join(" "));
    assert.ok((await readdir(path.join(t.dataDir, "agreements"))).length > 0);
  });
});
