import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submissionParts, submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

const DAY = 86_400_000;

const CAUSES = { key_compromised: "the key was compromised", malicious_module: "the key signed a malicious module" } as const;

/** The page's text with Handlebars' escapes undone, so messages can be compared as written. */
function decode(html: string): string {
  return html.replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&#x3D;/g, "=").replace(/&#x60;/g, "`").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

/** "24 November 2026", computed independently of the portal's formatter. */
function longDate(at: Date): string {
  return at.toLocaleDateString("en-GB", { timeZone: "UTC", day: "numeric", month: "long", year: "numeric" });
}

describe("a key whose certification was revoked", () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "ravi@keysign.example", roles: ["reviewer"] });
    // One approval decides, so a proposal revokes at once and an approval queues.
    await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: "1" }, update: { value: "1" } });
  });
  after(async () => t.close());

  /** Certifies a request of `address` and revokes it through the staff page; returns the request and when it was revoked. */
  async function revokedRequest(address: string, reasonCode: string, reasonText: string, existing?: Awaited<ReturnType<typeof submitRequest>>) {
    const submitted = existing ?? (await submitRequest(t, address));
    const { state } = await t.app.db.request.findUniqueOrThrow({ where: { id: submitted.id } });
    if (state !== "certified") await certifyRequest(t, submitted.id);
    const rita = await signInStaff(t, "rita@keysign.example");
    const page = await rita.get(`/admin/requests/${submitted.id}`);
    const response = await rita.postForm(`/admin/requests/${submitted.id}/revocations`, { version: versionOf(page.body), reasonCode, reasonText }, `/admin/requests/${submitted.id}`);
    assert.equal(response.statusCode, 303, response.body.slice(0, 1500));
    const revocation = await t.app.db.revocation.findFirstOrThrow({ where: { requestId: submitted.id } });
    assert.equal(revocation.state, "applied");
    return { ...submitted, revokedAt: revocation.appliedAt ?? new Date(0) };
  }

  /** Days pass, so a message that names the revocation's day cannot be naming today. */
  function daysLater(days: number): void {
    t.clock.now = new Date(t.clock.now.getTime() + days * DAY);
  }

  /** Everything a submission could leave behind. */
  async function traces() {
    const files = [...(await readdir(path.join(t.dataDir, "agreements"))), ...(await readdir(path.join(t.dataDir, "tmp")))];
    return {
      requests: await t.app.db.request.count(),
      keys: await t.app.db.requestKey.count(),
      agreements: await t.app.db.agreement.count(),
      approvals: await t.app.db.approval.count(),
      files: files.length,
      emails: await t.app.db.outboxEmail.count(),
      events: await t.app.db.auditEvent.count(),
      states: (await t.app.db.request.findMany({ orderBy: { id: "asc" }, select: { id: true, state: true, version: true } })).map((r) => `${r.id}:${r.state}:${r.version}`),
    };
  }

  for (const [reasonCode, cause] of Object.entries(CAUSES)) {
    it(`refuses a key revoked as "${reasonCode}" at both steps of a new request, naming the day and the reason, and stores nothing`, async () => {
      const address = `${reasonCode.replace("_", "-")}@example.org`;
      const revoked = await revokedRequest(address, reasonCode, "Reported by the holder <confidential>");
      daysLater(3);
      const message = `This key's certification was revoked on ${longDate(revoked.revokedAt)} because ${cause}. A revoked key is never certified again: make a new key and submit that one.`;
      const applicant = await signInAs(t, address);
      const before = await traces();

      const keyStep = await applicant.postMultipart("/requests/new", [{ name: "keyText", value: revoked.key.publicArmored }], "/requests/new");
      assert.equal(keyStep.statusCode, 400);
      assert.ok(decode(keyStep.body).includes(message), decode(keyStep.body).slice(0, 3000));
      assert.doesNotMatch(keyStep.body, /Choose the user IDs|certifyUserIds/, "the form does not go on to step two");

      const submit = await applicant.postMultipart("/requests", await submissionParts(revoked.key, `Dev <${address}>`), "/requests/new");
      assert.equal(submit.statusCode, 400);
      assert.ok(decode(submit.body).includes(message));
      // Staff's own words went to the key holder by email; whoever holds the public key only reads the reason.
      assert.doesNotMatch(decode(submit.body), /confidential/);
      assert.deepEqual(await traces(), before);
    });
  }

  it("refuses a revoked key offered as the new key of a revision, at both steps, and leaves the request as it was", async () => {
    const address = "reviser@example.org";
    const revoked = await revokedRequest(address, "key_compromised", "");
    const other = await submitRequest(t, address, "Dev", await makeTestKey([{ name: "Dev", email: address }]));
    const rita = await signInStaff(t, "rita@keysign.example");
    const staffPage = await rita.get(`/admin/requests/${other.id}`);
    const changes = await rita.postForm(`/admin/requests/${other.id}/request-changes`, { version: versionOf(staffPage.body), reason: "Please sign page 2." }, `/admin/requests/${other.id}`);
    assert.equal(changes.statusCode, 303);
    daysLater(2);
    const applicant = await signInAs(t, address);
    const version = versionOf((await applicant.get(`/requests/${other.id}`)).body);
    const message = `This key's certification was revoked on ${longDate(revoked.revokedAt)} because the key was compromised. A revoked key is never certified again: make a new key and submit that one.`;
    const before = await traces();

    const keyStep = await applicant.postMultipart(`/requests/${other.id}/revise/key`, [{ name: "keyText", value: revoked.key.publicArmored }, { name: "version", value: version }], `/requests/${other.id}/revise`);
    assert.equal(keyStep.statusCode, 400);
    assert.ok(decode(keyStep.body).includes(message));

    const parts = [...(await submissionParts(revoked.key, `Dev <${address}>`)), { name: "version", value: version }];
    const revise = await applicant.postMultipart(`/requests/${other.id}/revise`, parts, `/requests/${other.id}/revise`);
    assert.equal(revise.statusCode, 400);
    assert.ok(decode(revise.body).includes(message));
    assert.deepEqual(await traces(), before);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: other.id } })).state, "changes_requested");
  });

  for (const [reasonCode, cause] of Object.entries(CAUSES)) {
    it(`refuses to approve a request in review whose key was revoked as "${reasonCode}" meanwhile (409), and says so on the page`, async () => {
      const address = `waiting-${reasonCode.replace("_", "-")}@example.org`;
      // Certified first: a key has one open request at a time, and a certified one is closed.
      const first = await submitRequest(t, address);
      await certifyRequest(t, first.id);
      const waiting = await submitRequest(t, address, "Dev", first.key);
      const revoked = await revokedRequest(address, reasonCode, "", first);
      daysLater(1);
      const ravi = await signInStaff(t, "ravi@keysign.example");
      const sentence = `This key's certification was revoked on ${longDate(revoked.revokedAt)} because ${cause}. A revoked key is never certified again, so this request cannot be approved`;

      const page = await ravi.get(`/admin/requests/${waiting.id}`);
      assert.ok(decode(page.body).includes(sentence), decode(page.body).slice(0, 3000));
      assert.doesNotMatch(page.body, /<button type="submit">Approve<\/button>/);

      const before = await traces();
      const response = await ravi.postForm(`/admin/requests/${waiting.id}/approve`, { version: versionOf(page.body) }, `/admin/requests/${waiting.id}`);
      assert.equal(response.statusCode, 409);
      assert.ok(decode(response.body).includes(sentence), decode(response.body).slice(0, 3000));
      assert.deepEqual(await traces(), before);
      assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: waiting.id } })).state, "submitted");
    });
  }

  it("accepts a key revoked for a reason that does not end it, and shows reviewers every earlier revocation of it", async () => {
    const address = "second-chance@example.org";
    const reasons = [
      { code: "unanswered_vulnerability", label: "Unanswered vulnerability", text: "CVE-2026-0001 <ignored> for 90 days" },
      { code: "commercial_use", label: "Commercial use without agreement", text: "" },
      { code: "other", label: "Other", text: "Asked to be removed" },
    ];
    const revoked = [];
    let previous: Awaited<ReturnType<typeof submitRequest>> | undefined;
    for (const reason of reasons) {
      const submitted = previous ? await submitRequest(t, address, "Dev", previous.key) : undefined;
      const done = await revokedRequest(address, reason.code, reason.text, submitted);
      revoked.push({ ...reason, id: done.id, date: longDate(done.revokedAt) });
      previous = done;
      daysLater(4);
    }
    assert.ok(previous);
    const accepted = await submitRequest(t, address, "Dev", previous.key);

    const rita = await signInStaff(t, "rita@keysign.example");
    const page = await rita.get(`/admin/requests/${accepted.id}`);
    const text = decode(page.body);
    assert.match(text, /This key was revoked before/);
    assert.match(text, /The reasons below do not end the key, so it may be certified again/);
    for (const entry of revoked) {
      const line = `Revoked on ${entry.date}: ${entry.label}${entry.text ? `: ${entry.text}` : ""} (<a href="/admin/requests/${entry.id}">earlier request</a>)`;
      assert.ok(text.includes(line), `missing: ${line}`);
    }
    assert.ok(text.indexOf("This key was revoked before") < text.indexOf(`<h2 id="summary-title">Summary</h2>`), "the panel comes before the rest of the page");
    assert.match(page.body, /CVE-2026-0001 &lt;ignored&gt;/, "staff's words are escaped");
    assert.doesNotMatch(text, /never certified again/);

    const approve = await rita.postForm(`/admin/requests/${accepted.id}/approve`, { version: versionOf(page.body) }, `/admin/requests/${accepted.id}`);
    assert.equal(approve.statusCode, 303);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id: accepted.id } })).state, "queued");
  });
});
