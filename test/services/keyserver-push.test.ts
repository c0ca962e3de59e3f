/**
 * Pushes of published keys to upstream keyservers: the real app on a real database, posting to
 * HKP receivers listening on 127.0.0.1, with the app's clock moved to pass the backoff.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import * as openpgp from "openpgp";
import { buildApp } from "../../src/app.ts";
import { scanPackets, TAG } from "../../src/core/key-policy/packets.ts";
import { MAX_PUSH_ATTEMPTS, pushRetryDelayMs } from "../../src/core/publication/keyservers.ts";
import { claimDuePush } from "../../src/repositories/keyserver-pushes.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer } from "../helpers/certified.ts";
import { HkpReceiver } from "../helpers/hkp-receiver.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";

/** Starts the receivers and an app pushing to them; stops all of them after `work`, even when it throws. */
async function withPushes(receivers: HkpReceiver[], env: Record<string, string>, work: (t: TestApp, urls: string[]) => Promise<void>): Promise<void> {
  let t: TestApp | null = null;
  try {
    const urls = [];
    for (const receiver of receivers) urls.push(await receiver.start());
    t = await createTestApp({ PUBLISH_KEYSERVERS: urls.join(" "), ...env });
    await work(t, urls);
  } finally {
    await t?.close();
    for (const receiver of receivers) await receiver.stop();
  }
}

/** A certified request, written to the database as an import would (no signal is raised). */
async function certifiedKey(t: TestApp): Promise<{ requestId: string; fingerprint: string }> {
  await soleReviewer(t);
  const { id } = await submitRequest(t, "pushed@example.org");
  const { fingerprint } = await certifyRequest(t, id);
  return { requestId: id, fingerprint };
}

async function served(t: TestApp, fingerprint: string): Promise<string> {
  const response = await new Browser(t.app).get(`/pks/lookup?op=get&options=mr&search=0x${fingerprint}`);
  assert.equal(response.statusCode, 200);
  return response.body;
}

async function signatureTypes(armored: string): Promise<number[]> {
  const { data } = await openpgp.unarmor(armored);
  return scanPackets(data).packets.filter((packet) => packet.tag === TAG.signature).map((packet) => packet.body[1] ?? 0);
}

const rows = (t: TestApp) => t.app.db.keyserverPush.findMany({ orderBy: { createdAt: "asc" } });

function advance(t: TestApp, ms: number): void {
  t.clock.now = new Date(t.clock.now.getTime() + ms);
}

describe("pushes to upstream keyservers", () => {
  it("sends a certified key once, exactly as /pks/lookup serves it; the same state again sends nothing; a revocation is sent as a new push", async () => {
    const receiver = new HkpReceiver();
    await withPushes([receiver], {}, async (t, [url]) => {
      const { requestId, fingerprint } = await certifiedKey(t);
      await t.app.keyserverPush.run();
      const [first] = await receiver.received(1);
      assert.equal(first?.method, "POST");
      assert.equal(first?.path, "/pks/add");
      assert.equal(first?.contentType, "application/x-www-form-urlencoded");
      assert.equal(first?.keytext, await served(t, fingerprint));
      const [row] = await rows(t);
      assert.equal(row?.keyserver, url);
      assert.equal(row?.status, "sent");
      assert.equal(row?.attempts, 1);

      await t.app.keyserverPush.run();
      await t.app.keyserverPush.run();
      assert.equal(receiver.posts.length, 1, "the same published form is not sent again");
      assert.equal((await rows(t)).length, 1);

      assert.equal((await revokeAsSoleReviewer(t, requestId, "key_compromised")).statusCode, 303);
      await t.app.keyserverPush.run();
      const [, second] = await receiver.received(2);
      assert.equal(second?.keytext, await served(t, fingerprint));
      assert.notEqual(second?.keytext, first?.keytext);
      assert.ok((await signatureTypes(second?.keytext ?? "")).includes(0x30), "the push carries the certification's revocation");
      assert.deepEqual((await rows(t)).map((r) => r.status), ["sent", "sent"]);
    });
  });

  it("retries a keyserver answering 500 after the backoff, then fails the push for good after the limit, recording the status and a short text", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = { status: 500, body: "<html><body><h1>Internal error</h1>\n<p>database\tlocked</p></body></html>" };
    await withPushes([receiver], {}, async (t) => {
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      let [row] = await rows(t);
      assert.equal(row?.status, "pending");
      assert.equal(row?.attempts, 1);
      assert.equal(row?.lastError, "HTTP 500: Internal error database locked");
      assert.equal(row?.nextAttemptAt.getTime(), t.clock.now.getTime() + pushRetryDelayMs(1));

      await t.app.keyserverPush.deliverDue();
      assert.equal(receiver.posts.length, 1, "not retried before the backoff");
      for (let attempt = 2; attempt <= MAX_PUSH_ATTEMPTS; attempt++) {
        advance(t, pushRetryDelayMs(attempt - 1));
        await t.app.keyserverPush.deliverDue();
        assert.equal(receiver.posts.length, attempt);
      }
      [row] = await rows(t);
      assert.equal(row?.status, "failed");
      assert.equal(row?.attempts, MAX_PUSH_ATTEMPTS);
      advance(t, 24 * 3_600_000);
      await t.app.keyserverPush.run();
      assert.equal(receiver.posts.length, MAX_PUSH_ATTEMPTS, "a push failed for good waits for staff");
    });
  });

  it("abandons a push the keyserver never answers after PUBLISH_TIMEOUT_SECONDS and retries it later", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = "never";
    await withPushes([receiver], { PUBLISH_TIMEOUT_SECONDS: "1" }, async (t) => {
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      let [row] = await rows(t);
      assert.equal(row?.status, "pending");
      assert.equal(row?.attempts, 1);
      assert.equal(row?.lastError, "ETIMEDOUT: no answer within 1 s");

      receiver.answer = { status: 200 };
      advance(t, pushRetryDelayMs(1));
      await t.app.keyserverPush.deliverDue();
      [row] = await rows(t);
      assert.equal(row?.status, "sent");
      assert.equal(receiver.posts.length, 2);
    });
  });

  it("gives back a push stuck on a keyserver when the app closes, counting no attempt", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = "never";
    // Only close() can end the stuck push before the test's own run is over.
    await withPushes([receiver], { PUBLISH_TIMEOUT_SECONDS: "120" }, async (t) => {
      await certifiedKey(t);
      const pass = t.app.keyserverPush.run();
      await receiver.received(1);
      const db = t.app.db;
      const [claimed] = await rows(t);
      assert.equal(claimed?.status, "sending");
      await t.app.keyserverPush.stop();
      await pass;
      const row = await db.keyserverPush.findUniqueOrThrow({ where: { id: claimed?.id ?? "" } });
      assert.equal(row.status, "pending");
      assert.equal(row.attempts, 0);
      assert.equal(row.lastError, null);
      assert.ok(row.nextAttemptAt <= t.clock.now, "due again at once");
    });
  });

  it("gives each keyserver its own rows, and one that refuses holds up none of the others", async () => {
    const [good, bad] = [new HkpReceiver(), new HkpReceiver()];
    bad.answer = { status: 503, body: "Service Unavailable" };
    await withPushes([good, bad], {}, async (t, [goodUrl, badUrl]) => {
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      assert.equal(good.posts.length, 1);
      assert.equal(bad.posts.length, 1);
      assert.equal(good.posts[0]?.keytext, bad.posts[0]?.keytext);
      const byKeyserver = Object.fromEntries((await rows(t)).map((row) => [row.keyserver, row.status]));
      assert.deepEqual(byKeyserver, { [goodUrl ?? ""]: "sent", [badUrl ?? ""]: "pending" });
    });
  });

  it("replaces a push still waiting when the key changes, and sends only the newer form", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = { status: 500 };
    await withPushes([receiver], {}, async (t) => {
      const { requestId, fingerprint } = await certifiedKey(t);
      await t.app.keyserverPush.run();
      assert.equal((await revokeAsSoleReviewer(t, requestId, "key_compromised")).statusCode, 303);
      receiver.answer = { status: 200 };
      await t.app.keyserverPush.run();
      assert.deepEqual((await rows(t)).map((row) => row.status), ["superseded", "sent"]);
      assert.equal(receiver.posts.at(-1)?.keytext, await served(t, fingerprint));
      advance(t, 24 * 3_600_000);
      await t.app.keyserverPush.deliverDue();
      assert.equal(receiver.posts.length, 2, "the replaced form is never sent again");
    });
  });

  it("follows no redirect and records no key material a keyserver quotes back", async () => {
    const [receiver, elsewhere] = [new HkpReceiver(), new HkpReceiver()];
    await withPushes([receiver, elsewhere], {}, async (t, [url, elsewhereUrl]) => {
      receiver.answer = { status: 302, headers: { location: `${(elsewhereUrl ?? "").replace("hkp:", "http:")}/pks/add` } };
      elsewhere.answer = { status: 500, body: "" };
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      assert.equal(elsewhere.posts.length, 1, "only its own push, not the redirected one");
      const [redirected] = await t.app.db.keyserverPush.findMany({ where: { keyserver: url } });
      assert.match(redirected?.lastError ?? "", /^HTTP 302: the keyserver redirects, and redirects are not followed/);

      receiver.answer = { status: 400, body: `Cannot parse:\n${receiver.posts[0]?.keytext ?? ""}` };
      advance(t, pushRetryDelayMs(1));
      await t.app.keyserverPush.deliverDue();
      const [quoted] = await t.app.db.keyserverPush.findMany({ where: { keyserver: url } });
      assert.equal(quoted?.lastError, "HTTP 400: (the answer quoted key material, not recorded)");
    });
  });

  it("reads only the start of a keyserver's answer: an endless one ends the attempt at once, not at the timeout", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = "endless";
    // A timeout far beyond the test's run: reaching it would mean the answer was read to its end.
    await withPushes([receiver], { PUBLISH_TIMEOUT_SECONDS: "120" }, async (t) => {
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      const [row] = await rows(t);
      assert.equal(row?.status, "pending");
      assert.equal(row?.lastError, `HTTP 500: ${"x".repeat(200)}…`);
    });
  });

  it("keeps its rows across a restart, takes back a push a dead process had claimed, and then pushes at start and at every change by itself", async () => {
    const receiver = new HkpReceiver();
    receiver.answer = { status: 503 };
    let next: FastifyInstance | null = null;
    await withPushes([receiver], {}, async (t) => {
      const { requestId, fingerprint } = await certifiedKey(t);
      await t.app.keyserverPush.run();
      advance(t, pushRetryDelayMs(1));
      // A process that dies mid-push leaves its claim behind.
      assert.ok(await claimDuePush(t.app.db, t.config.publishKeyservers[0]?.name ?? "", t.clock.now, 5 * 60_000));
      await t.app.close();

      receiver.answer = { status: 200 };
      try {
        next = await buildApp({ config: { ...t.config, MAIL_WORKER: true }, now: () => t.clock.now });
        await next.ready();
        // From here on the test talks to the restarted app, on the same data directory.
        t.app = next;
        const [, delivered] = await receiver.received(2);
        assert.equal(delivered?.keytext, await served(t, fingerprint));
        await next.keyserverPush.run();
        const [row] = await next.db.keyserverPush.findMany();
        assert.equal(row?.status, "sent");
        assert.equal(row?.attempts, 2, "the interrupted push counted no attempt");

        // The revocation raises the publication signal; the worker follows it without being asked.
        assert.equal((await revokeAsSoleReviewer(t, requestId, "key_compromised")).statusCode, 303);
        const [, , revoked] = await receiver.received(3);
        assert.ok((await signatureTypes(revoked?.keytext ?? "")).includes(0x30));
      } finally {
        await next?.close();
      }
    });
  });

  it("does nothing when no keyserver is configured", async () => {
    await withPushes([], {}, async (t) => {
      await certifiedKey(t);
      await t.app.keyserverPush.run();
      assert.equal(await t.app.db.keyserverPush.count(), 0);
    });
  });
});
