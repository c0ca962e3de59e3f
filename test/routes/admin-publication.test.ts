/**
 * The staff page of pushes to upstream keyservers: counts and rows per keyserver, "retry now"
 * for a push failed for good (CSRF-protected, audited), and what it says when pushes are off.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { MAX_PUSH_ATTEMPTS, pushRetryDelayMs } from "../../src/core/publication/keyservers.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { HkpReceiver } from "../helpers/hkp-receiver.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const ADMIN = "ada@keysign.example";

/** Drives a push to a keyserver answering 500 until it is failed for good. */
async function failForGood(t: TestApp): Promise<void> {
  await t.app.keyserverPush.run();
  for (let attempt = 1; attempt < MAX_PUSH_ATTEMPTS; attempt++) {
    t.clock.now = new Date(t.clock.now.getTime() + pushRetryDelayMs(attempt));
    await t.app.keyserverPush.deliverDue();
  }
}

describe("publication page (admin)", () => {
  it("says pushes are off and how to turn them on when no keyserver is configured, and the admin navigation links to it", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: ADMIN, roles: ["admin"] });
      const admin = await signInStaff(t, ADMIN);
      const page = await admin.get("/admin/publication");
      assert.equal(page.statusCode, 200);
      assert.match(page.body, /Pushes to upstream keyservers are off/);
      assert.match(page.body, /set <code>PUBLISH_KEYSERVERS<\/code> to their URLs/);
      assert.match((await admin.get("/admin")).body, /<a href="\/admin\/publication">Publication<\/a>/);
    } finally {
      await t.close();
    }
  });

  it("shows per keyserver what waits, was sent and failed for good, with the error; retry now sends it again and is audited", async () => {
    const [good, bad] = [new HkpReceiver(), new HkpReceiver()];
    bad.answer = { status: 500, body: "Internal error" };
    let t: TestApp | null = null;
    try {
      const [goodUrl, badUrl] = [await good.start(), await bad.start()];
      t = await createTestApp({ PUBLISH_KEYSERVERS: `${goodUrl} ${badUrl}` });
      await createStaff(t, { email: ADMIN, roles: ["admin"] });
      await createStaff(t, { email: "rev@keysign.example", roles: ["reviewer", "signing_officer"] });
      const { id } = await submitRequest(t, "pushed@example.org");
      const { fingerprint } = await certifyRequest(t, id);
      await failForGood(t);

      const admin = await signInStaff(t, ADMIN);
      const page = await admin.get("/admin/publication");
      assert.equal(page.statusCode, 200);
      const summary = (url: string) => new RegExp(`<th scope="row"><a href="#keyserver-\\d">${url}</a></th><td>(\\d+)</td><td>(\\d+)</td><td>(\\d+)</td>`).exec(page.body)?.slice(1);
      assert.deepEqual(summary(goodUrl), ["0", "1", "0"]);
      assert.deepEqual(summary(badUrl), ["0", "0", "1"]);
      assert.match(page.body, new RegExp(formatFingerprint(fingerprint)));
      assert.match(page.body, /Failed for good<\/span><\/td>\s*<td>12<\/td>/);
      assert.match(page.body, /<td>HTTP 500: Internal error<\/td>/);
      const failed = await t.app.db.keyserverPush.findFirstOrThrow({ where: { status: "failed" } });
      assert.match(page.body, new RegExp(`action="/admin/publication/pushes/${failed.id}/retry"`));
      assert.equal((page.body.match(/>Retry now<\/button>/g) ?? []).length, 1, "only the failed push can be retried");

      // Without the CSRF token nothing changes.
      const forged = await t.app.inject({ method: "POST", url: `/admin/publication/pushes/${failed.id}/retry`, headers: { cookie: `ks_session=${admin.cookie("ks_session")}; ks_csrf=${admin.cookie("ks_csrf")}`, "content-type": "application/x-www-form-urlencoded" }, payload: "" });
      assert.equal(forged.statusCode, 403);
      assert.match(forged.body, /This form has expired/);
      assert.equal((await t.app.db.keyserverPush.findUniqueOrThrow({ where: { id: failed.id } })).status, "failed");

      // Staff without the admin role cannot retry.
      const reviewer = await signInStaff(t, "rev@keysign.example");
      assert.equal((await reviewer.postForm(`/admin/publication/pushes/${failed.id}/retry`, {}, "/admin")).statusCode, 403);

      bad.answer = { status: 200 };
      const retried = await admin.postForm(`/admin/publication/pushes/${failed.id}/retry`, {}, "/admin/publication");
      assert.equal(retried.statusCode, 303);
      assert.equal(retried.headers.location, "/admin/publication?retried=1");
      await t.app.keyserverPush.deliverDue();
      const row = await t.app.db.keyserverPush.findUniqueOrThrow({ where: { id: failed.id } });
      assert.equal(row.status, "sent");
      assert.equal(bad.posts.length, MAX_PUSH_ATTEMPTS + 1);
      const event = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "keyserver_push.retry" } });
      assert.deepEqual(JSON.parse(event.data), { pushId: failed.id, keyserver: badUrl, fingerprint, attempts: MAX_PUSH_ATTEMPTS });

      const again = await admin.postForm(`/admin/publication/pushes/${failed.id}/retry`, {}, "/admin/publication");
      assert.equal(again.statusCode, 409);
      assert.match(again.body, /This push is sent already, so there is nothing to retry/);
      const unknown = await admin.postForm("/admin/publication/pushes/00000000-0000-4000-8000-000000000000/retry", {}, "/admin/publication");
      assert.equal(unknown.statusCode, 404);
      assert.equal(await t.app.db.auditEvent.count({ where: { action: "keyserver_push.retry" } }), 1);
    } finally {
      await t?.close();
      await good.stop();
      await bad.stop();
    }
  });
});
