/**
 * The admin's setup checklist on the dashboard: each item flips when its condition changes,
 * the list disappears once everything is done, an admin can hide it and show it again, and
 * nobody but an admin sees it or can change it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { makeMaster } from "../helpers/signing-queue.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

type Item = "master-key" | "notation-domain" | "reviewers" | "mail" | "schedule";

/** Each item's status as the dashboard shows it, or null when the item (or the list) is absent. */
async function statuses(browser: Browser): Promise<Record<Item, string | null> & { listed: boolean }> {
  const body = (await browser.get("/admin")).body;
  const status = (item: Item) => {
    const cell = new RegExp(`<div class="task-list-status" id="setup-${item}-status">(.*?)</div>`).exec(body)?.[1];
    return cell === undefined ? null : cell.replace(/<[^>]+>/g, "");
  };
  return { listed: body.includes("Set up the portal"), "master-key": status("master-key"), "notation-domain": status("notation-domain"), reviewers: status("reviewers"), mail: status("mail"), schedule: status("schedule") };
}

async function hint(browser: Browser, item: Item): Promise<string> {
  return new RegExp(`<p class="task-list-hint" id="setup-${item}-hint">(.*?)</p>`).exec((await browser.get("/admin")).body)?.[1] ?? "";
}

async function saveSettings(admin: Browser, certificationDomain: string): Promise<void> {
  const form = { approvalsRequired: "2", certificationValidityDays: "730", policyUrl: "", organisationName: "Test Org", certificationDomain };
  const response = await admin.postForm("/admin/settings", form, "/admin/settings");
  assert.equal(response.statusCode, 303, response.body.slice(0, 300));
}

async function queueEmail(t: TestApp, fields: { status: string; lastError?: string; attempts?: number; sentAt?: Date }, createdAt: Date): Promise<void> {
  const id = randomUUID();
  await t.app.db.outboxEmail.create({
    data: { id, template: "sign-in", recipient: "someone@example.org", subject: "s", html: "h", text: "t", messageId: `<${id}@portal.keysign.test>`, createdAt, nextAttemptAt: createdAt, ...fields },
  });
}

describe("setup checklist: a portal without mail or schedule", () => {
  let t: TestApp;
  let admin: Browser;
  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "ada@keysign.example", roles: ["admin"] });
    admin = await signInStaff(t, "ada@keysign.example");
  });
  after(async () => t.close());

  it("starts with every item to do, each saying where to fix it", async () => {
    assert.deepEqual(await statuses(admin), { listed: true, "master-key": "To do", "notation-domain": "To do", reviewers: "To do", mail: "To do", schedule: "To do" });
    const body = (await admin.get("/admin")).body;
    assert.match(body, /<a href="\/admin\/settings#masterKeyText"[^>]*>Register the master public key<\/a>/);
    assert.match(body, /<a href="\/admin\/settings#certificationDomain"[^>]*>Set the certification domain<\/a>/);
    assert.match(body, /<a href="\/admin\/staff#invite"[^>]*>Have enough reviewers for the approval quorum<\/a>/);
    assert.match(await hint(admin, "mail"), /SMTP_URL is not set/);
    assert.match(await hint(admin, "schedule"), /Set SIGNING_SCHEDULE/);
    assert.match(await hint(admin, "reviewers"), /^0 active reviewers; each request needs 2 approvals/);
  });

  it("marks the master key done once it is registered, and shows its fingerprint", async () => {
    const master = await makeMaster();
    const response = await admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: master.toPublic().armor() }], "/admin/settings");
    assert.equal(response.statusCode, 303);
    assert.equal((await statuses(admin))["master-key"], "Done");
    assert.ok((await hint(admin, "master-key")).includes(master.getFingerprint().toUpperCase().slice(0, 4)));
  });

  it("marks the certification domain done once it is set, and to do again when it is cleared", async () => {
    await saveSettings(admin, "keys.keysign.example");
    assert.equal((await statuses(admin))["notation-domain"], "Done");
    await saveSettings(admin, "");
    assert.equal((await statuses(admin))["notation-domain"], "To do");
  });

  it("counts only enabled, enrolled reviewers against the quorum", async () => {
    await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
    await createStaff(t, { email: "gone@keysign.example", roles: ["reviewer"], disabled: true });
    const pending = await createStaff(t, { email: "new@keysign.example", roles: ["reviewer"] });
    await t.app.db.staff.update({ where: { id: pending.id }, data: { totpEnrolledAt: null } });
    assert.equal((await statuses(admin)).reviewers, "To do");
    assert.match(await hint(admin, "reviewers"), /^1 active reviewer; each request needs 2 approvals/);
    await createStaff(t, { email: "ravi@keysign.example", roles: ["reviewer", "signing_officer"] });
    assert.equal((await statuses(admin)).reviewers, "Done");
    // Raising the quorum above the reviewers there are makes it to do again.
    await t.app.db.setting.upsert({ where: { key: "approvalsRequired" }, create: { key: "approvalsRequired", value: "3" }, update: { value: "3" } });
    assert.equal((await statuses(admin)).reviewers, "To do");
    await t.app.db.setting.update({ where: { key: "approvalsRequired" }, data: { value: "2" } });
  });

  it("keeps mail to do without SMTP_URL, even when emails were written to files", async () => {
    await queueEmail(t, { status: "sent", sentAt: t.clock.now }, t.clock.now);
    assert.equal((await statuses(admin)).mail, "To do");
  });

  it("is never shown to a reviewer or a signing officer, who cannot hide it either", async () => {
    const rita = await signInStaff(t, "rita@keysign.example");
    const ravi = await signInStaff(t, "ravi@keysign.example");
    for (const browser of [rita, ravi]) {
      const body = (await browser.get("/admin")).body;
      assert.doesNotMatch(body, /Set up the portal|setup-checklist|task-list/);
      const refused = await browser.postForm("/admin/setup-checklist", { show: "no" }, "/admin");
      assert.equal(refused.statusCode, 403);
    }
    assert.equal(await t.app.db.setting.count({ where: { key: "setupChecklistHidden" } }), 0);
  });

  it("can be hidden and shown again by an admin; each change is audited; a bad choice is refused", async () => {
    const hidden = await admin.postForm("/admin/setup-checklist", { show: "no" }, "/admin");
    assert.equal(hidden.statusCode, 303);
    const body = (await admin.get("/admin")).body;
    assert.doesNotMatch(body, /Set up the portal/);
    assert.match(body, /The setup checklist is hidden; \d of 5 items are still to do/);
    assert.equal(await t.app.db.auditEvent.count({ where: { action: "settings.setup_checklist" } }), 1);
    const bad = await admin.postForm("/admin/setup-checklist", { show: "maybe" }, "/admin");
    assert.equal(bad.statusCode, 400);
    assert.equal(await t.app.db.auditEvent.count({ where: { action: "settings.setup_checklist" } }), 1);
    await admin.postForm("/admin/setup-checklist", { show: "yes" }, "/admin");
    assert.equal((await statuses(admin)).listed, true);
    assert.equal(await t.app.db.auditEvent.count({ where: { action: "settings.setup_checklist" } }), 2);
  });
});

describe("setup checklist: a portal with mail and a schedule", () => {
  let t: TestApp;
  let admin: Browser;
  before(async () => {
    t = await createTestApp({ SMTP_URL: "smtp://127.0.0.1:2525", SIGNING_SCHEDULE: "on the first Monday of each month" });
    await createStaff(t, { email: "ada@keysign.example", roles: ["admin"] });
    await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
    admin = await signInStaff(t, "ada@keysign.example");
  });
  after(async () => t.close());

  it("marks the schedule done and quotes it as applicants read it", async () => {
    assert.equal((await statuses(admin)).schedule, "Done");
    assert.match(await hint(admin, "schedule"), /Signing ceremonies are held on the first Monday of each month\./);
  });

  it("marks mail done with SMTP_URL set, and to do while the newest email is not delivered", async () => {
    assert.equal((await statuses(admin)).mail, "Done");
    assert.match(await hint(admin, "mail"), /No email has been delivered yet/);
    const earlier = new Date(t.clock.now.getTime() - 60_000);
    await queueEmail(t, { status: "sent", sentAt: earlier }, earlier);
    assert.equal((await statuses(admin)).mail, "Done");
    assert.match(await hint(admin, "mail"), /the last email was delivered at/);
    await queueEmail(t, { status: "pending", attempts: 3, lastError: "connection refused" }, t.clock.now);
    assert.equal((await statuses(admin)).mail, "To do");
    assert.match(await hint(admin, "mail"), /has not been delivered after 3 attempts/);
    // A newer email delivered: the server works again.
    const later = new Date(t.clock.now.getTime() + 60_000);
    await queueEmail(t, { status: "sent", sentAt: later }, later);
    assert.equal((await statuses(admin)).mail, "Done");
  });

  it("disappears once every item is done", async () => {
    await createStaff(t, { email: "ravi@keysign.example", roles: ["reviewer"] });
    const master = await makeMaster();
    await admin.postMultipart("/admin/settings/master-key", [{ name: "masterKeyText", value: master.toPublic().armor() }], "/admin/settings");
    assert.equal((await statuses(admin)).listed, true);
    await saveSettings(admin, "keys.keysign.example");
    const body = (await admin.get("/admin")).body;
    assert.doesNotMatch(body, /Set up the portal|setup-checklist/);
  });
});
