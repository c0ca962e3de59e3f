import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { enqueueEmail, SCRUBBED } from "../../src/repositories/outbox.ts";
import { renderEmail } from "../../src/services/mail-templates.ts";
import { MAX_ATTEMPTS, retryDelayMs } from "../../src/services/mail-delivery.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser } from "../helpers/http.ts";
import { mailAttachments, TestSmtpServer } from "../helpers/smtp.ts";

describe("mail delivery through the outbox", () => {
  let smtp: TestSmtpServer;
  let t: TestApp;

  before(async () => {
    smtp = new TestSmtpServer();
    t = await createTestApp({ SMTP_URL: await smtp.start(), SIGNIN_RATE_PER_ADDRESS: "50" });
  });
  after(async () => {
    await t.close();
    await smtp.stop();
  });

  async function queueSignIn(address: string) {
    const response = await new Browser(t.app).postForm("/sign-in", { address }, "/sign-in");
    assert.equal(response.statusCode, 200);
  }

  it("loses nothing during an outage and sends each email exactly once after it", async () => {
    smtp.mode = "down";
    for (const n of [1, 2, 3]) await queueSignIn(`outage${n}@example.org`);
    await t.app.mail.deliverDue();
    assert.equal(smtp.received.length, 0);
    const waiting = await t.app.db.outboxEmail.findMany({ where: { recipient: { startsWith: "outage" } } });
    assert.equal(waiting.length, 3);
    assert.ok(waiting.every((row) => row.status === "pending" && row.attempts === 1 && /451/.test(row.lastError ?? "")));

    // Not due yet: nothing is retried before its backoff.
    smtp.mode = "up";
    await t.app.mail.deliverDue();
    assert.equal(smtp.received.length, 0);

    t.clock.now = new Date(t.clock.now.getTime() + retryDelayMs(1));
    await Promise.all([t.app.mail.deliverDue(), t.app.mail.deliverDue()]);
    await t.app.mail.deliverDue();
    const recipients = smtp.received.flatMap((m) => m.to).sort();
    assert.deepEqual(recipients, ["outage1@example.org", "outage2@example.org", "outage3@example.org"]);
    const sent = await t.app.db.outboxEmail.findMany({ where: { recipient: { startsWith: "outage" } } });
    assert.ok(sent.every((row) => row.status === "sent" && row.sentAt !== null));
    // The sign-in links do not stay in the database after delivery.
    assert.ok(sent.every((row) => row.html === SCRUBBED && row.text === SCRUBBED));
  });

  it("makes every waiting email due at once when a delivery succeeds after failures", async () => {
    smtp.mode = "down";
    smtp.received.length = 0;
    const receipt = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: [], link: "http://localhost/r" }, { contactAddress: null });
    const queue = (recipient: string) => t.app.db.$transaction((tx) => enqueueEmail(tx, { ...receipt, recipient }, "localhost", t.clock.now));
    for (const n of [1, 2, 3]) await queue(`waiting${n}@example.org`);
    // Three failed attempts each: the next one is minutes away.
    for (let attempt = 1; attempt <= 3; attempt++) {
      await t.app.mail.deliverDue();
      t.clock.now = new Date(t.clock.now.getTime() + retryDelayMs(attempt));
    }
    t.clock.now = new Date(t.clock.now.getTime() - retryDelayMs(3));
    const waiting = await t.app.db.outboxEmail.findMany({ where: { recipient: { startsWith: "waiting" } } });
    assert.ok(waiting.every((row) => row.status === "pending" && row.attempts === 3 && row.nextAttemptAt > t.clock.now));

    // The server is back; the clock stands still. One new email goes through, and the others follow it.
    smtp.mode = "up";
    await queue("fresh@example.org");
    await t.app.mail.deliverDue();
    assert.deepEqual(smtp.received.flatMap((m) => m.to).sort(), ["fresh@example.org", "waiting1@example.org", "waiting2@example.org", "waiting3@example.org"]);
    const sent = await t.app.db.outboxEmail.findMany({ where: { recipient: { startsWith: "waiting" } } });
    assert.ok(sent.every((row) => row.status === "sent"));
  });

  it("retries a sign-in email before its link expires, however long the outage", async () => {
    smtp.mode = "down";
    await queueSignIn("patient@example.org");
    const { id, expiresAt } = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "patient@example.org" } });
    assert.ok(expiresAt);
    // Backoff alone would make the fifth retry 15.5 minutes after the first attempt, past the link's 15.
    for (let attempt = 1; attempt <= 6; attempt++) {
      await t.app.mail.deliverDue();
      const row = await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id } });
      assert.equal(row.attempts, attempt);
      assert.ok(row.nextAttemptAt < expiresAt, `retry ${attempt} is scheduled before the link expires`);
      t.clock.now = row.nextAttemptAt;
    }
    smtp.mode = "up";
    await t.app.mail.deliverDue();
    assert.equal((await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id } })).status, "sent");
    assert.equal(smtp.received.filter((m) => m.to.includes("patient@example.org")).length, 1);
  });

  it("backs off exponentially up to an hour", () => {
    assert.deepEqual([1, 2, 3, 4].map(retryDelayMs), [30_000, 60_000, 120_000, 240_000]);
    assert.equal(retryDelayMs(20), 3_600_000);
  });

  it("marks an email failed after a permanent refusal, for staff to see", async () => {
    smtp.mode = "permanent";
    await queueSignIn("bounce@example.org");
    await t.app.mail.deliverDue();
    smtp.mode = "up";
    const row = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "bounce@example.org" } });
    assert.equal(row.status, "failed");
    assert.match(row.lastError ?? "", /550/);
  });

  it("gives up after the last attempt", async () => {
    smtp.mode = "down";
    const receipt = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: ["Dev <never@example.org>"], link: "http://localhost/r" }, { contactAddress: null });
    await t.app.db.$transaction((tx) => enqueueEmail(tx, { ...receipt, recipient: "never@example.org" }, "localhost", t.clock.now));
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      await t.app.mail.deliverDue();
      t.clock.now = new Date(t.clock.now.getTime() + retryDelayMs(20));
    }
    smtp.mode = "up";
    const row = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "never@example.org" } });
    assert.equal(row.status, "failed");
    assert.equal(row.attempts, MAX_ATTEMPTS);
    assert.equal(smtp.received.filter((m) => m.to.includes("never@example.org")).length, 0);
  });

  it("does not send a sign-in link that expired while the server was down", async () => {
    smtp.mode = "down";
    await queueSignIn("stale@example.org");
    await t.app.mail.deliverDue();
    smtp.mode = "up";
    t.clock.now = new Date(t.clock.now.getTime() + 16 * 60_000);
    await t.app.mail.deliverDue();
    const row = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient: "stale@example.org" } });
    assert.equal(row.status, "expired");
    assert.equal(smtp.received.filter((m) => m.to.includes("stale@example.org")).length, 0);
  });

  it("delivers attachments byte for byte, with the name and type we gave them", async () => {
    smtp.received.length = 0;
    const binary = randomBytes(5000);
    const armored = Buffer.from("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxjMEZ\n-----END PGP PUBLIC KEY BLOCK-----\n");
    const receipt = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: ["Dev <files@example.org>"], link: "http://localhost/r" }, { contactAddress: null });
    const attachments = [
      { filename: "ABCDEF-certified.asc", contentType: "application/pgp-keys", content: armored },
      { filename: "ABCDEF-certified.asc.gpg", contentType: "application/octet-stream", content: binary },
    ];
    await t.app.db.$transaction((tx) => enqueueEmail(tx, { ...receipt, recipient: "files@example.org", attachments }, "localhost", t.clock.now));
    await t.app.mail.deliverDue();
    const [mail] = smtp.received;
    assert.ok(mail);
    assert.deepEqual(
      mailAttachments(mail).map((a) => ({ ...a, content: Buffer.from(a.content) })),
      attachments.map((a) => ({ ...a, content: Buffer.from(a.content) })),
    );
  });

  it("refuses an attachment name or type that could break the MIME headers, and stores nothing", async () => {
    const receipt = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: [], link: "http://localhost/r" }, { contactAddress: null });
    const before = await t.app.db.outboxEmail.count();
    for (const attachment of [
      { filename: 'key.asc"\r\nBcc: x@example.org', contentType: "application/pgp-keys" },
      { filename: "../key.asc", contentType: "application/pgp-keys" },
      { filename: "key.asc", contentType: "text/plain\r\nX-Injected: 1" },
    ]) {
      await assert.rejects(
        t.app.db.$transaction((tx) => enqueueEmail(tx, { ...receipt, recipient: "files@example.org", attachments: [{ ...attachment, content: new Uint8Array(1) }] }, "localhost", t.clock.now)),
        /not one of ours/,
      );
    }
    assert.equal(await t.app.db.outboxEmail.count(), before);
  });

  it("puts only the verified address in the envelope and fixed text in the subject", async () => {
    smtp.received.length = 0;
    await queueSignIn("envelope@example.org");
    await t.app.mail.deliverDue();
    const [mail] = smtp.received;
    assert.deepEqual(mail?.to, ["envelope@example.org"]);
    assert.match(mail?.raw ?? "", /^Subject: Your Keysign sign-in link\r?$/m);
    assert.match(mail?.raw ?? "", /^To: envelope@example.org\r?$/m);
  });
});

describe("mail without an SMTP server", () => {
  it("writes .eml files to the data directory and logs nothing but the link", async () => {
    const t = await createTestApp();
    try {
      await new Browser(t.app).postForm("/sign-in", { address: "file@example.org" }, "/sign-in");
      await t.app.mail.deliverDue();
      const dir = path.join(t.dataDir, "mail");
      const files = (await readdir(dir)).filter((f) => f.endsWith(".eml"));
      assert.equal(files.length, 1);
      const eml = await readFile(path.join(dir, files[0]!), "utf8");
      assert.match(eml, /^To: file@example.org$/m);
      // The text part is quoted-printable: soft line breaks and "=3D" undone.
      assert.match(eml.replace(/=\r?\n/g, "").replaceAll("=3D", "="), /\/sign-in\/link\?token=/);

      const receipt = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: [], link: "http://localhost/r" }, { contactAddress: null });
      const content = randomBytes(300);
      await t.app.db.$transaction((tx) => enqueueEmail(tx, { ...receipt, recipient: "attached@example.org", attachments: [{ filename: "key.asc.gpg", contentType: "application/octet-stream", content }] }, "localhost", t.clock.now));
      await t.app.mail.deliverDue();
      const withFile = (await readdir(dir)).filter((f) => f.endsWith(".eml") && f !== files[0]);
      assert.equal(withFile.length, 1);
      const attached = mailAttachments(await readFile(path.join(dir, withFile[0]!), "utf8"));
      assert.deepEqual(attached.map((a) => [a.filename, a.contentType, a.content.equals(content)]), [["key.asc.gpg", "application/octet-stream", true]]);
    } finally {
      await t.close();
    }
  });
});
