import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { Socket } from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.ts";
import type { Config } from "../../src/config.ts";
import { claimDueEmail, enqueueEmail } from "../../src/repositories/outbox.ts";
import { renderEmail } from "../../src/services/mail-templates.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { RawSmtpServer, TestSmtpServer, waitForMail, waitForStall } from "../helpers/smtp.ts";

const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * Only catches a hang: every wait below ends within the configured SMTP timeout when the rule
 * holds, and takes nodemailer's own timeouts (30 s for a greeting, 10 minutes for an answer), the
 * default SMTP timeout (30 s) or forever when it does not.
 */
const HANG_GUARD_MS = 20_000;

/** Resolves with `work`'s value, failing the test if the guard fires first. */
async function beforeGuard<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<{ hung: true }>((resolve) => (timer = setTimeout(() => resolve({ hung: true }), HANG_GUARD_MS)));
  try {
    const outcome = await Promise.race([work.then((value) => ({ hung: false as const, value })), guard]);
    if (outcome.hung) assert.fail(`${what} did not finish before the guard`);
    return outcome.value;
  } finally {
    clearTimeout(timer);
  }
}

async function queueEmail(t: TestApp, recipient: string, at = t.clock.now): Promise<string> {
  const email = renderEmail("request-received", { fingerprint: "F".repeat(40), userIds: [], link: "http://portal.keysign.test/r" }, { contactAddress: null });
  return t.app.db.$transaction((tx) => enqueueEmail(tx, { ...email, recipient }, "portal.keysign.test", at));
}

/** The same data directory opened again, as the next start of the process would. */
async function reopen(t: TestApp, overrides: Partial<Config>): Promise<FastifyInstance> {
  const app = await buildApp({ config: { ...t.config, ...overrides }, now: () => t.clock.now });
  await app.ready();
  return app;
}

describe("mail delivery when the SMTP server stalls", () => {
  it("delivers other emails while one send is stuck, and closing the app gives the stuck email back, sent after the restart", async () => {
    const smtp = new TestSmtpServer();
    smtp.stallFor.add("stuck@example.org");
    let t: TestApp | null = null;
    let next: FastifyInstance | null = null;
    try {
      // The default timeout (30 s): the stuck send outlasts everything below unless close() interrupts it.
      t = await createTestApp({ SMTP_URL: await smtp.start() });
      // Queued first, so it is claimed first and a queue of one would hold the others behind it.
      const stuckId = await queueEmail(t, "stuck@example.org", new Date(t.clock.now.getTime() - 60_000));
      const others = ["one", "two", "three", "four", "five"].map((name) => `${name}@example.org`);
      for (const address of others) await queueEmail(t, address);

      const pass = t.app.mail.deliverDue();
      const stalled = await waitForStall(smtp, "stuck@example.org");
      for (const address of others) await waitForMail(smtp, address);
      assert.equal((await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id: stuckId } })).status, "sending");

      await beforeGuard(t.app.close(), "closing the app during a stuck send");
      assert.equal(await pass, others.length + 1);

      smtp.stallFor.clear();
      next = await reopen(t, {});
      const released = await next.db.outboxEmail.findUniqueOrThrow({ where: { id: stuckId } });
      assert.equal(released.status, "pending");
      assert.equal(released.attempts, 0, "an interrupted send is not the email's fault");
      assert.ok(released.nextAttemptAt <= t.clock.now, "due again at once");

      await next.mail.deliverDue();
      const sent = await waitForMail(smtp, "stuck@example.org");
      // At least once: the stalled copy may have reached the recipient, and carries the same Message-ID.
      const messageId = (raw: string) => /^Message-ID: (.*?)\r?$/im.exec(raw)?.[1];
      assert.equal(messageId(sent.raw), released.messageId);
      assert.equal(messageId(stalled.raw), released.messageId);
      assert.equal((await next.db.outboxEmail.findUniqueOrThrow({ where: { id: stuckId } })).status, "sent");
    } finally {
      await next?.close();
      if (t) await t.close();
      await smtp.stop();
    }
  });

  it("abandons a send that gets no answer after SMTP_TIMEOUT_SECONDS and retries it after its backoff", async () => {
    const smtp = new TestSmtpServer();
    smtp.stallFor.add("slow@example.org");
    let t: TestApp | null = null;
    try {
      t = await createTestApp({ SMTP_URL: await smtp.start(), SMTP_TIMEOUT_SECONDS: "1" });
      const slowId = await queueEmail(t, "slow@example.org");

      await beforeGuard(t.app.mail.deliverDue(), "a pass with a stalled send");
      const waiting = await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id: slowId } });
      assert.equal(waiting.status, "pending");
      assert.equal(waiting.attempts, 1);
      assert.match(waiting.lastError ?? "", /ETIMEDOUT/);
      assert.ok(waiting.nextAttemptAt > t.clock.now);

      smtp.stallFor.clear();
      t.clock.now = waiting.nextAttemptAt;
      await beforeGuard(t.app.mail.deliverDue(), "the retry");
      assert.equal(smtp.received.filter((m) => m.to.includes("slow@example.org")).length, 1);
      assert.equal((await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id: slowId } })).status, "sent");
    } finally {
      if (t) await t.close();
      await smtp.stop();
    }
  });

  it("retries an email that stalls the server once when other mail goes through, then keeps to its backoff", async () => {
    const smtp = new TestSmtpServer();
    smtp.stallFor.add("poison@example.org");
    let t: TestApp | null = null;
    try {
      t = await createTestApp({ SMTP_URL: await smtp.start(), SMTP_TIMEOUT_SECONDS: "1" });
      const id = await queueEmail(t, "poison@example.org");
      const attempts = async () => (await t!.app.db.outboxEmail.findUniqueOrThrow({ where: { id } })).attempts;
      await beforeGuard(t.app.mail.deliverDue(), "the first attempt");
      assert.equal(await attempts(), 1);

      // Another email goes through: the server looks recovered, so the waiting email is due at once.
      await queueEmail(t, "ok1@example.org");
      await beforeGuard(t.app.mail.deliverDue(), "the pass after a success");
      assert.equal(await attempts(), 2);

      // It failed again while others go through: its trouble is its own, and it waits out its backoff.
      await queueEmail(t, "ok2@example.org");
      await beforeGuard(t.app.mail.deliverDue(), "the pass after another success");
      const row = await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id } });
      assert.equal(row.attempts, 2);
      assert.ok(row.nextAttemptAt > t.clock.now);
      assert.deepEqual(smtp.received.flatMap((m) => m.to), ["ok1@example.org", "ok2@example.org"]);
    } finally {
      if (t) await t.close();
      await smtp.stop();
    }
  });

  it("connects to a server that never greets at most SMTP_CONCURRENCY times at once, and gives every email back after the timeout", async () => {
    const server = new RawSmtpServer("silent");
    let t: TestApp | null = null;
    try {
      t = await createTestApp({ SMTP_URL: await server.start(), SMTP_TIMEOUT_SECONDS: "1", SMTP_CONCURRENCY: "4" });
      for (let n = 0; n < 8; n++) await queueEmail(t, `mute${n}@example.org`);

      assert.equal(await beforeGuard(t.app.mail.deliverDue(), "a pass against a silent server"), 8);
      assert.equal(server.accepted, 8);
      assert.equal(server.peakOpen, 4);
      const rows = await t.app.db.outboxEmail.findMany({ where: { recipient: { startsWith: "mute" } } });
      assert.equal(rows.length, 8);
      for (const row of rows) {
        assert.equal(row.status, "pending");
        assert.equal(row.attempts, 1);
        assert.match(row.lastError ?? "", /ETIMEDOUT/);
      }
    } finally {
      if (t) await t.close();
      await server.stop();
    }
  });

  it("abandons a send after SMTP_TIMEOUT_SECONDS even when the server keeps trickling bytes", async () => {
    const server = new RawSmtpServer("dribble");
    let t: TestApp | null = null;
    try {
      t = await createTestApp({ SMTP_URL: await server.start(), SMTP_TIMEOUT_SECONDS: "1" });
      const id = await queueEmail(t, "trickle@example.org");
      await beforeGuard(t.app.mail.deliverDue(), "a pass against a trickling server");
      const row = await t.app.db.outboxEmail.findUniqueOrThrow({ where: { id } });
      assert.equal(row.status, "pending");
      assert.match(row.lastError ?? "", /ETIMEDOUT: no answer within 1 s/);
    } finally {
      if (t) await t.close();
      await server.stop();
    }
  });

  it("releases emails claimed by a process that died mid-send as soon as the worker starts, instead of waiting out the lease", async () => {
    const smtp = new TestSmtpServer();
    let t: TestApp | null = null;
    let next: FastifyInstance | null = null;
    try {
      t = await createTestApp({ SMTP_URL: await smtp.start() });
      await queueEmail(t, "crash1@example.org");
      await queueEmail(t, "crash2@example.org");
      // What a process killed with -9 between claiming and marking leaves behind: two leased rows.
      assert.ok(await claimDueEmail(t.app.db, t.clock.now, 5 * 60_000));
      assert.ok(await claimDueEmail(t.app.db, t.clock.now, 5 * 60_000));
      await t.app.close();

      // The clock stands still: only the release at start-up can make them due.
      next = await reopen(t, { MAIL_WORKER: true });
      await next.mail.deliverDue();
      assert.deepEqual(smtp.received.flatMap((m) => m.to).sort(), ["crash1@example.org", "crash2@example.org"]);
      const rows = await next.db.outboxEmail.findMany({ where: { recipient: { startsWith: "crash" } } });
      assert.ok(rows.every((row) => row.status === "sent" && row.attempts === 0));
    } finally {
      await next?.close();
      if (t) await t.close();
      await smtp.stop();
    }
  });

  it("ends the server process cleanly on SIGTERM while a send is stuck, and the email is due again", async () => {
    const smtp = new TestSmtpServer();
    smtp.stallFor.add("term@example.org");
    let t: TestApp | null = null;
    let server: ServerProcess | null = null;
    try {
      const smtpUrl = await smtp.start();
      // The server process runs on the real clock.
      t = await createTestApp({}, new Date());
      const id = await queueEmail(t, "term@example.org");
      await t.app.close();

      server = startServerProcess(t, { SMTP_URL: smtpUrl });
      // Starting the process takes a while on a busy machine; the stall itself lasts the 30 s timeout.
      await waitForStall(smtp, "term@example.org", 30_000);
      server.child.kill("SIGTERM");
      const exit = await beforeGuard(server.exited, "the server process after SIGTERM");
      assert.deepEqual(exit, { code: 0, signal: null }, server.output());

      const next = await reopen(t, {});
      try {
        const row = await next.db.outboxEmail.findUniqueOrThrow({ where: { id } });
        assert.equal(row.status, "pending");
        assert.equal(row.attempts, 0);
        assert.ok(row.nextAttemptAt <= new Date(), "due again at once");
      } finally {
        await next.close();
      }
    } finally {
      server?.kill();
      if (t) await rm(t.dataDir, { recursive: true, force: true });
      await smtp.stop();
    }
  });

  it("ends the server process by its signal when something other than mail holds shutdown up past the limit", async () => {
    let t: TestApp | null = null;
    let server: ServerProcess | null = null;
    const client = new Socket();
    try {
      t = await createTestApp({}, new Date());
      await t.app.close();
      server = startServerProcess(t, {});
      const port = await server.port();
      // The form's cookies first: a POST without them is answered before its body is read.
      const page = await fetch(`http://127.0.0.1:${port}/sign-in`);
      const cookies = page.headers.getSetCookie().map((cookie) => cookie.split(";")[0]).join("; ");
      // A request whose body never finishes: closing waits for it until the 60 s request timeout.
      await new Promise<void>((resolve, reject) => client.once("error", reject).connect(port, "127.0.0.1", resolve));
      client.write(
        `POST /sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookies}\r\n` +
          "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\naddress=",
      );
      await server.logged(/"method":"POST","url":"\/sign-in"/);
      server.child.kill("SIGTERM");
      const exit = await beforeGuard(server.exited, "the server process after SIGTERM");
      assert.deepEqual(exit, { code: null, signal: "SIGTERM" }, server.output());
      assert.match(server.output(), /keysign: shutdown took more than 8 s; ending the process with SIGTERM/);
    } finally {
      client.destroy();
      server?.kill();
      if (t) await rm(t.dataDir, { recursive: true, force: true });
    }
  });
});

interface ServerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
  /** Waits (up to 30 s: starting takes a while on a busy machine) for a log line, and returns its match. */
  logged: (pattern: RegExp) => Promise<RegExpExecArray>;
  /** The port it listens on, from its start-up log line. */
  port: () => Promise<number>;
  kill: () => void;
}

/** The real server process (`src/server.ts`, as `npm start` runs it) on the test app's data directory. */
function startServerProcess(t: TestApp, env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATA_DIR: t.dataDir, HOST: "127.0.0.1", PORT: "0", AUTO_MIGRATE: "false", LOG_LEVEL: "info", PUBLIC_URL: t.config.PUBLIC_URL, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
  // "close" rather than "exit": it comes after the last output has been read.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const logged = async (pattern: RegExp) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const match = pattern.exec(output);
      if (match) return match;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the server never logged ${pattern}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return {
    child,
    exited,
    output: () => output,
    logged,
    port: async () => Number((await logged(/Server listening at http:\/\/127\.0\.0\.1:(\d+)/))[1]),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}
