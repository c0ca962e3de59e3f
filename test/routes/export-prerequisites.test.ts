/**
 * What a batch carries for good: the certification domain in every notation name, the
 * organisation in every revocation, the key's public status page, and the key's history. Export
 * waits until they are set, never names localhost, and holds back a key revoked for good since
 * its request was approved.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { batchItem } from "../../src/cli/signer-summary.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { submitRequest } from "../helpers/requests.ts";
import { CERTIFICATION_DOMAIN, exportBatch, ORGANISATION, queuedRequest, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

function unescape(html: string): string {
  return html.replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&#x3D;/g, "=").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

async function storedSettings(t: TestApp): Promise<Record<string, string>> {
  return Object.fromEntries((await t.app.db.setting.findMany()).map((row) => [row.key, row.value]));
}

describe("export prerequisites: organisation, certification domain, public address", () => {
  let t: TestApp;
  let desk: SigningDesk;
  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
  });
  after(async () => t.close());

  const settingsForm = (organisationName: string, certificationDomain: string) => ({ approvalsRequired: "2", certificationValidityDays: "730", policyUrl: "", organisationName, certificationDomain });

  it("refuses a certification domain that is not a public domain name, and an organisation name with control characters; nothing is saved", async () => {
    const before = await storedSettings(t);
    for (const domain of ["localhost", "keys.localhost", "127.0.0.1", "keys", "-keys.example.org", "keys example.org", "keys.example.org/path"]) {
      const response = await desk.admin.postForm("/admin/settings", settingsForm(ORGANISATION, domain), "/admin/settings");
      assert.equal(response.statusCode, 400, domain);
      assert.match(response.body, /The certification domain must be a public domain name the organisation controls/, domain);
    }
    const named = await desk.admin.postForm("/admin/settings", settingsForm("Evil\u202EOrg", CERTIFICATION_DOMAIN), "/admin/settings");
    assert.equal(named.statusCode, 400);
    assert.match(named.body, /The organisation name must be plain text/);
    assert.deepEqual(await storedSettings(t), before);
  });

  it("will not export until both are set, and the signing page says so before the button is pressed", async () => {
    await t.app.db.setting.deleteMany({ where: { key: { in: ["organisationName", "certificationDomain"] } } });
    const { id } = await queuedRequest(desk, "early@example.org");
    const page = unescape((await desk.officer.get("/admin/signing")).body);
    assert.match(page, /Batches cannot be exported yet\.<\/strong> Set the organisation name and the certification domain in Settings before exporting/);
    assert.doesNotMatch(page, /Export batch<\/button>/, "no button for an export that would be refused");
    const refused = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    assert.equal(refused.statusCode, 409);
    assert.match(unescape(refused.body), /Set the organisation name and the certification domain in Settings before exporting: every certification and revocation the master key makes carries them, for good\./);
    assert.equal(await t.app.db.batch.count(), 0);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "queued");

    const saved = await desk.admin.postForm("/admin/settings", settingsForm("FreePBX", "Keys.FreePBX.org"), "/admin/settings");
    assert.equal(saved.statusCode, 303);
    const ready = (await desk.officer.get("/admin/signing")).body;
    assert.doesNotMatch(ready, /Batches cannot be exported yet/);
    assert.match(ready, /Export batch<\/button>/);
    const { payload } = await exportBatch(desk);
    assert.equal(payload.organisation, "FreePBX");
    const [item] = payload.items;
    assert.equal(item?.kind, "certify");
    assert.deepEqual(item.kind === "certify" && item.certification.notations.map((notation) => notation.name), ["request@keys.freepbx.org", "agreement-sha256@keys.freepbx.org", "batch@keys.freepbx.org"]);
    assert.equal(item.statusUrl, `http://portal.keysign.test/keys/${item.fingerprint}`);
  });

  it("will not point revocations at a portal on localhost", async () => {
    const local = await createTestApp({ PUBLIC_URL: "http://localhost:3000" });
    try {
      const localDesk = await signingDesk(local);
      await queuedRequest(localDesk, "local@example.org");
      const refused = await localDesk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
      assert.equal(refused.statusCode, 409);
      assert.match(refused.body, /PUBLIC_URL is http:\/\/localhost:3000: every revocation points to the key&#x27;s status page under it/);
      assert.equal(await local.app.db.batch.count(), 0);
    } finally {
      await local.close();
    }
  });
});

describe("a key's revocation history at export", () => {
  let t: TestApp;
  let desk: SigningDesk;
  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
  });
  after(async () => t.close());

  /** Revokes a certified request through the staff pages with both reviewers (quorum 2). */
  async function revoke(requestId: string, reasonCode: string, reasonText: string): Promise<void> {
    for (const [index, reviewer] of desk.reviewers.entries()) {
      const page = await reviewer.get(`/admin/requests/${requestId}`);
      const revocationId = /revocations\/([0-9a-f-]{36})\/approve/.exec(page.body)?.[1];
      const response =
        index === 0
          ? await reviewer.postForm(`/admin/requests/${requestId}/revocations`, { version: versionOf(page.body), reasonCode, reasonText }, `/admin/requests/${requestId}`)
          : await reviewer.postForm(`/admin/requests/${requestId}/revocations/${revocationId}/approve`, { version: versionOf(page.body) }, `/admin/requests/${requestId}`);
      assert.equal(response.statusCode, 303, response.body.slice(0, 800));
    }
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: requestId } })).state, "revoked");
  }

  it("carries earlier revocations to the signer, and holds back a key revoked for good after its request was approved", async () => {
    // Key 1: revoked once for a reason that does not end it, then certified anew.
    const first = await submitRequest(t, "again@example.org");
    await certifyRequest(t, first.id, { master: desk.master });
    await revoke(first.id, "unanswered_vulnerability", "CVE-2026-1234 left open for 90 days");
    const again = await queuedRequest(desk, "again@example.org", "Dev", first.key);
    // Key 2: certified, then a new request for it is approved and queued, then the certification is revoked as compromised.
    const other = await submitRequest(t, "stolen@example.org");
    await certifyRequest(t, other.id, { master: desk.master });
    const queued = await queuedRequest(desk, "stolen@example.org", "Dev", other.key);
    await revoke(other.id, "key_compromised", "The laptop was stolen");

    const { payload } = await exportBatch(desk);
    assert.deepEqual(payload.items.map((item) => item.requestId), [again.id]);
    const [item] = payload.items;
    if (item?.kind !== "certify") throw new Error("expected a certify item");
    assert.equal(item.history.length, 1);
    assert.equal(item.history[0]?.reason, "Unanswered vulnerability: CVE-2026-1234 left open for 90 days");
    // What the signing officer reads at the air-gapped machine.
    const summary = batchItem(item, "1/1", null, payload.organisation).join("\n");
    assert.match(summary, /!! REVOKED\s+before, on \d{4}-\d\d-\d\d: Unanswered vulnerability: CVE-2026-1234 left open for 90 days/);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: queued.id } })).state, "queued");
    const held = await t.app.db.auditEvent.findFirstOrThrow({ where: { action: "batch.export" }, orderBy: { seq: "desc" } });
    assert.deepEqual(JSON.parse(held.data).held, [queued.id]);
  });
});
