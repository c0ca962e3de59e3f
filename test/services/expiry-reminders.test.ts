import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.ts";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { certificationExpiry } from "../../src/core/publication/key-status.ts";
import { retryDelayMs } from "../../src/services/mail-delivery.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submitRequest } from "../helpers/requests.ts";
import { TestSmtpServer } from "../helpers/smtp.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";
import { signInAs } from "../helpers/session.ts";

const DAY = 86_400_000;
const OWNER = "dev@example.org";

async function withApp(env: Record<string, string>, body: (t: TestApp) => Promise<void>): Promise<void> {
  const t = await createTestApp(env);
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

/** A certified request of OWNER's key; returns its id, fingerprint and when the certification lapses. */
async function certified(t: TestApp, keyExpiresInDays = 0) {
  const key = await makeTestKey([{ name: "Dev", email: OWNER }], { expiresInSeconds: keyExpiresInDays * 86_400 });
  const { id } = await submitRequest(t, OWNER, "Dev", key);
  const { fingerprint, certifications } = await certifyRequest(t, id);
  const expiresAt = certificationExpiry(certifications[0]?.certification ?? new Uint8Array());
  assert.ok(expiresAt);
  return { id, fingerprint, expiresAt };
}

function at(t: TestApp, when: Date): void {
  t.clock.now = when;
}

/** The thresholds of the reminders recorded, in the order they were queued. */
async function sentThresholds(app: FastifyInstance, kind: "certification" | "key"): Promise<number[]> {
  const rows = await app.db.expiryReminder.findMany({ where: { kind }, orderBy: { sentAt: "asc" } });
  return rows.map((row) => row.thresholdDays);
}

async function queued(app: FastifyInstance, template: string) {
  return app.db.outboxEmail.findMany({ where: { template }, orderBy: { createdAt: "asc" } });
}

describe("expiry reminders", () => {
  it("sends each certification reminder once, stepping a day at a time up to and past the expiry", async () => {
    await withApp({}, async (t) => {
      const { expiresAt } = await certified(t);
      for (let day = 65; day >= -3; day--) {
        at(t, new Date(expiresAt.getTime() - day * DAY));
        await t.app.expiry.run();
        await t.app.expiry.run();
      }
      assert.deepEqual(await sentThresholds(t.app, "certification"), [60, 30, 7]);
      const emails = await queued(t.app, "certification-expiring");
      assert.equal(emails.length, 3);
      assert.ok(emails.every((email) => email.recipient === OWNER));
      assert.match(emails[0]?.text ?? "", /in 60 days/);
      assert.match(emails[2]?.text ?? "", /in 7 days/);
    });
  });

  it("sends only the latest threshold after a jump, once, and nothing for a lapsed certification", async () => {
    await withApp({}, async (t) => {
      const { expiresAt } = await certified(t);
      at(t, new Date(expiresAt.getTime() - 5 * DAY));
      assert.equal((await t.app.expiry.run()).reminders, 1);
      assert.equal((await t.app.expiry.run()).reminders, 0);
      at(t, new Date(expiresAt.getTime() - 1 * DAY));
      assert.equal((await t.app.expiry.run()).reminders, 0);
      assert.deepEqual(await sentThresholds(t.app, "certification"), [7]);
      at(t, new Date(expiresAt.getTime() + DAY));
      assert.equal((await t.app.expiry.run()).reminders, 0);
    });
  });

  it("tells the owner exactly what to do: the renewal link, and the filled-in commands to extend the key", async () => {
    await withApp({}, async (t) => {
      // The key itself expires 400 days after its creation (2026-01-01), long before the certification.
      const { id, fingerprint } = await certified(t, 400);
      const keyExpiry = new Date(Date.parse("2026-01-01T00:00:00Z") + 400 * DAY);
      at(t, new Date(keyExpiry.getTime() - 20 * DAY));
      assert.equal((await t.app.expiry.run()).reminders, 1);
      assert.deepEqual(await sentThresholds(t.app, "key"), [30]);
      const [email] = await queued(t.app, "key-expiring");
      assert.equal(email?.recipient, OWNER);
      const text = email?.text ?? "";
      assert.ok(text.includes(`gpg --quick-set-expire ${fingerprint} 2y\n`), text);
      assert.ok(text.includes(`gpg --keyserver hkp://portal.keysign.test:80 --send-keys ${fingerprint}\n`), text);
      assert.ok(text.includes(`http://portal.keysign.test/keys/${fingerprint}`));
      assert.ok(text.includes(`http://portal.keysign.test/requests/${id}`));
      assert.match(text, /expires on 2027-02-05, in 20 days/);
      assert.ok((email?.html ?? "").includes(`gpg --quick-set-expire ${fingerprint} 2y`));

      const { expiresAt } = await t.app.db.certification.findFirstOrThrow({ where: { requestId: id } }).then((row) => ({ expiresAt: certificationExpiry(new Uint8Array(row.signature)) }));
      assert.ok(expiresAt);
      at(t, new Date(expiresAt.getTime() - 59 * DAY));
      await t.app.expiry.run();
      const [renewal] = await queued(t.app, "certification-expiring");
      const renewalText = renewal?.text ?? "";
      // The renew action itself, one click from the email.
      assert.ok(renewalText.includes(`renew the certification: one click on this page`), renewalText);
      assert.ok(renewalText.includes(`\nhttp://portal.keysign.test/requests/${id}/renew\n`), renewalText);
      assert.ok(renewalText.includes(`http://portal.keysign.test/requests/${id}`));
      // The key expired meanwhile: no key reminder is due any more, and none was repeated.
      assert.deepEqual(await sentThresholds(t.app, "key"), [30]);
    });
  });

  it("reminds nobody of a revoked key or a superseded certification", async () => {
    await withApp({}, async (t) => {
      await soleReviewer(t);
      const revoked = await certified(t);
      assert.equal((await revokeAsSoleReviewer(t, revoked.id, "key_compromised")).statusCode, 303);

      const key = await makeTestKey([{ name: "Other", email: "other@example.org" }]);
      const first = await submitRequest(t, "other@example.org", "Other", key);
      await certifyRequest(t, first.id);
      at(t, new Date(t.clock.now.getTime() + 10 * DAY));
      const second = await submitRequest(t, "other@example.org", "Other", key);
      const { certifications } = await certifyRequest(t, second.id);
      const secondExpiry = certificationExpiry(certifications[0]?.certification ?? new Uint8Array());
      assert.ok(secondExpiry);
      // The first certification lapses ten days before the second: only the second's reminders go out.
      for (const day of [65, 55, 45, 35, 25, 15, 5, 1]) {
        at(t, new Date(secondExpiry.getTime() - day * DAY));
        await t.app.expiry.run();
      }
      const rows = await t.app.db.expiryReminder.findMany({ where: { kind: "certification" } });
      assert.deepEqual([...new Set(rows.map((row) => row.subject))], [second.id]);
      assert.deepEqual(rows.map((row) => row.thresholdDays).sort((a, b) => a - b), [7, 30, 60]);
    });
  });

  it("keeps what it sent across a restart, and catches up at start after downtime", async () => {
    const smtp = new TestSmtpServer();
    const smtpUrl = await smtp.start();
    let next: FastifyInstance | null = null;
    try {
      await withApp({ SMTP_URL: smtpUrl }, async (t) => {
        const { expiresAt } = await certified(t);
        at(t, new Date(expiresAt.getTime() - 45 * DAY));
        await t.app.expiry.run();
        assert.equal(await t.app.expiry.runIfDue(), null, "the last run is recent: nothing runs");
        await t.app.close();

        // Down for three weeks: the restarted worker runs the check at start, by itself.
        at(t, new Date(expiresAt.getTime() - 20 * DAY));
        next = await buildApp({ config: { ...t.config, MAIL_WORKER: true }, now: () => t.clock.now });
        await next.ready();
        t.app = next;
        assert.deepEqual(await sentThresholds(next, "certification"), [60, 30]);
        await next.expiry.run();
        assert.equal((await queued(next, "certification-expiring")).length, 2);
        const lastRun = await next.db.setting.findUniqueOrThrow({ where: { key: "expiryCheckRunAt" } });
        assert.equal(lastRun.value, t.clock.now.toISOString());
      });
    } finally {
      await (next as FastifyInstance | null)?.close();
      await smtp.stop();
    }
  });

  it("queues a reminder once through an SMTP outage; the outbox retries it and it arrives once", async () => {
    const smtp = new TestSmtpServer();
    try {
      await withApp({ SMTP_URL: await smtp.start() }, async (t) => {
        const { expiresAt } = await certified(t);
        smtp.mode = "down";
        at(t, new Date(expiresAt.getTime() - 50 * DAY));
        await t.app.expiry.run();
        await t.app.mail.deliverDue();
        const [waiting] = await queued(t.app, "certification-expiring");
        assert.equal(waiting?.status, "pending");
        assert.equal(waiting?.attempts, 1);
        for (let hour = 1; hour <= 3; hour++) {
          at(t, new Date(t.clock.now.getTime() + 3_600_000));
          await t.app.expiry.run();
        }
        smtp.mode = "up";
        at(t, new Date(t.clock.now.getTime() + retryDelayMs(1)));
        await t.app.mail.deliverDue();
        await t.app.expiry.run();
        await t.app.mail.deliverDue();
        const rows = await queued(t.app, "certification-expiring");
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.status, "sent");
        const arrived = smtp.received.filter((mail) => mail.raw.includes("Subject: The certification of your key expires soon"));
        assert.equal(arrived.length, 1);
        assert.deepEqual(arrived[0]?.to, [OWNER]);
      });
    } finally {
      await smtp.stop();
    }
  });
});

describe("the staff's expiry digest and dashboard", () => {
  it("emails reviewers and admins once a week the certifications expiring within 60 days, and counts them on the dashboard", async () => {
    await withApp({}, async (t) => {
      await createStaff(t, { email: "rev@keysign.example", roles: ["reviewer"] });
      await createStaff(t, { email: "adm@keysign.example", roles: ["admin"] });
      await createStaff(t, { email: "off@keysign.example", roles: ["signing_officer"] });
      const { fingerprint, expiresAt } = await certified(t);
      at(t, new Date(expiresAt.getTime() - 70 * DAY));
      assert.equal((await t.app.expiry.run()).digests, 0, "nothing expires within 60 days: no digest, and the week starts");
      at(t, new Date(expiresAt.getTime() - 56 * DAY));
      assert.equal((await t.app.expiry.run()).digests, 2);
      assert.equal((await t.app.expiry.run()).digests, 0);
      at(t, new Date(expiresAt.getTime() - 50 * DAY));
      assert.equal((await t.app.expiry.run()).digests, 0, "a week has not passed since the last digest");
      at(t, new Date(expiresAt.getTime() - 49 * DAY));
      assert.equal((await t.app.expiry.run()).digests, 2);
      const digests = await queued(t.app, "expiry-digest");
      assert.deepEqual(digests.map((d) => d.recipient).sort(), ["adm@keysign.example", "adm@keysign.example", "rev@keysign.example", "rev@keysign.example"]);
      assert.ok(digests[0]?.text.includes(formatFingerprint(fingerprint)));
      assert.ok(digests[0]?.text.includes("http://portal.keysign.test/admin/requests/"));

      const staff = await signInStaff(t, "rev@keysign.example");
      const dashboard = await staff.get("/admin");
      assert.match(dashboard.body, /Certifications expiring in the next 60 days: <strong>1<\/strong>/);
    });
  });
});

describe("an expired certification on every page", () => {
  it("shows as expired, not revoked, to the owner, to staff and on the key's public page", async () => {
    await withApp({}, async (t) => {
      await createStaff(t, { email: "rev@keysign.example", roles: ["reviewer"] });
      const { id, fingerprint, expiresAt } = await certified(t);
      const pages = async () => {
        const owner = await signInAs(t, OWNER);
        const staff = await signInStaff(t, "rev@keysign.example");
        return [
          (await owner.get("/requests")).body,
          (await owner.get(`/requests/${id}`)).body,
          (await staff.get("/admin/requests?state=")).body,
          (await staff.get(`/admin/requests/${id}`)).body,
          (await staff.get("/admin/requests?state=certified")).body,
          (await t.app.inject({ method: "GET", url: `/keys/${fingerprint}` })).body,
        ];
      };
      at(t, new Date(expiresAt.getTime() - DAY));
      for (const body of await pages()) {
        assert.doesNotMatch(body, /Certification expired/);
      }
      at(t, new Date(expiresAt.getTime() + DAY));
      for (const body of await pages()) {
        assert.match(body, /state-expired">Certification expired</);
        assert.doesNotMatch(body, /Certification revoked/);
      }
      const ownerPage = (await (await signInAs(t, OWNER)).get(`/requests/${id}`)).body;
      assert.match(ownerPage, /make a new request for the same key from <a href="\/requests">your requests page<\/a>/);
      const feed = JSON.parse((await t.app.inject({ method: "GET", url: "/status/v1/feed.json" })).body) as { entries: Array<{ fingerprint: string; state: string }> };
      assert.deepEqual(feed.entries.filter((entry) => entry.fingerprint === fingerprint).map((entry) => entry.state), ["expired"]);
      const request = await t.app.db.request.findUniqueOrThrow({ where: { id } });
      assert.equal(request.state, "certified");
    });
  });
});
