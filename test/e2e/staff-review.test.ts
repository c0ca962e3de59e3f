import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { totpCode, totpStep } from "../../src/core/totp.ts";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { submitRequest } from "../helpers/requests.ts";
import { findLink, waitForMail } from "../helpers/smtp.ts";

const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");

/** Creates the account behind a setup or invitation link, enrols the authenticator and lands on the dashboard. */
async function createAccount(page: Page, link: string, email: string | null, password: string): Promise<void> {
  await page.goto(link);
  if (email) await page.getByLabel("Your email address").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByLabel("Password again").fill(password);
  await page.getByRole("button", { name: "Create my account" }).click();
  await page.getByRole("heading", { name: "Set up your authenticator app" }).waitFor();
  const secret = ((await page.locator(".secret code").textContent()) ?? "").replace(/\s+/g, "");
  await page.getByLabel("Code from the app").fill(totpCode(secret, totpStep(new Date())));
  await page.getByRole("button", { name: "Confirm" }).click();
  await page.getByRole("heading", { name: "Your recovery codes" }).waitFor();
  await page.getByRole("link", { name: /I have kept them/ }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
}

describe("staff journey in a real browser", () => {
  let portal: LivePortal;

  // On the real clock: the authenticator codes typed in the browser are computed from it.
  before(async () => {
    portal = await startLivePortal();
  });
  after(async () => portal?.close());

  it("sets up the first admin, invites a reviewer, and two staff approve a request into the queue", async () => {
    const { t, base, browser, smtp } = portal;
    const setup = await t.app.staffAuth.firstStartSetupLink();
    assert.ok(setup, "a portal without an admin offers a setup link");
    const setupUrl = new URL(setup);
    const admin = await (await browser.newContext()).newPage();
    await createAccount(admin, `${base}${setupUrl.pathname}${setupUrl.search}`, "root@keysign.example", "correct horse battery staple");

    // The admin also reviews on this small team.
    await admin.getByRole("navigation").getByRole("link", { name: "Staff", exact: true }).click();
    await admin.getByRole("link", { name: "root@keysign.example" }).click();
    await admin.getByLabel("Reviewer").check();
    await admin.getByRole("button", { name: "Save roles" }).click();

    await admin.getByRole("navigation").getByRole("link", { name: "Staff", exact: true }).click();
    await admin.getByLabel("Email address").fill("rita@keysign.example");
    await admin.getByLabel("Reviewer").check();
    await admin.getByRole("button", { name: "Send the invitation" }).click();
    const invite = await waitForMail(smtp, "rita@keysign.example");
    const inviteUrl = new URL(findLink(invite, "/admin/invite?token="));
    const rita = await (await browser.newContext()).newPage();
    await createAccount(rita, `${base}${inviteUrl.pathname}${inviteUrl.search}`, null, "rita's long passphrase 42");

    const { id } = await submitRequest(t, "ada@example.org");
    // Each approval says what it did: the first how many more are needed, the last that the request is queued.
    const said: string[] = [];
    for (const page of [admin, rita]) {
      await page.goto(`${base}/admin/requests/${id}`);
      await page.getByRole("button", { name: "Approve" }).click();
      await page.getByRole("heading", { name: "Review request" }).waitFor();
      said.push((await page.locator("#outcome").textContent()) ?? "");
    }
    assert.match(said[0] ?? "", /1 of 2 approvals: one more reviewer must approve it before it goes to signing/);
    assert.match(said[1] ?? "", /it is now queued for the next signing batch/);
    assert.match(said[1] ?? "", /No other request needs your approval now/);
    assert.equal(await rita.locator(".page-head .state").textContent(), "Waiting for signing");
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "queued");
    await mkdir(SCREENSHOTS, { recursive: true });
    await rita.screenshot({ path: path.join(SCREENSHOTS, "e2e-review-queued.png"), fullPage: true });
  });
});
