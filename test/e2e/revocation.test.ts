/**
 * A revocation from proposal to GnuPG, through the real pages in chromium: with the default
 * quorum of two, one reviewer proposes, a second approves, the portal publishes the sealed
 * revocation, and a fresh GnuPG home that trusts the master ultimately sees the master's
 * revocation on the owner's downloaded key and no longer full validity.
 */
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { certifyRequest, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, unescapeColonField, withGpgHome } from "../helpers/gpg.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, currentTotpCode } from "../helpers/staff.ts";

const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");

/** What an install sees: a fresh home, the master with ultimate ownertrust, then the downloaded key. */
async function relyingParty(certified: CertifiedRequest, keyFile: string) {
  const master = certified.master;
  return withGpgHome(async (gpg) => {
    await gpg.ok(["--import"], { input: master.toPublic().armor() });
    await gpg.ok(["--import-ownertrust"], { input: `${master.getFingerprint().toUpperCase()}:6:\n` });
    await gpg.ok(["--import"], { input: keyFile });
    await gpg.ok(["--check-trustdb"]);
    const listing = (await gpg.ok(["--with-colons", "--fixed-list-mode", "--check-sigs", `0x${certified.fingerprint}`])).toString("utf8");
    const records = colonRecords(listing);
    const masterKeyId = master.getKeyID().toHex().toUpperCase();
    const uid = records.find((r) => r[0] === "uid");
    return {
      listing,
      userId: unescapeColonField(uid?.[9] ?? ""),
      validity: uid?.[1] ?? "",
      /** The master's signatures on the user ID as "record:check:class", e.g. "rev:!:30x". */
      byMaster: records.filter((r) => (r[0] === "sig" || r[0] === "rev") && r[4] === masterKeyId).map((r) => `${r[0]}:${r[1]}:${(r[10] ?? "").slice(0, 3)}`),
      masterLines: listing.split("\n").filter((line) => /^(sig|rev):/.test(line) && line.split(":")[4] === masterKeyId),
    };
  });
}

describe("revoking a certification in a real browser", () => {
  let portal: LivePortal;

  // On the real clock: the authenticator codes typed in the browser are computed from it.
  before(async () => {
    portal = await startLivePortal();
  });
  after(async () => portal?.close());

  /** Signs a reviewer in through the staff pages: password, then the authenticator code. */
  async function staffPage(email: string, password: string): Promise<Page> {
    const { t, base, browser } = portal;
    const page = await (await browser.newContext({ acceptDownloads: true })).newPage();
    await page.goto(`${base}/admin/login`);
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByLabel("Code or recovery code").fill(await currentTotpCode(t, email));
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    return page;
  }

  /** Clicks a form's button and returns the status of the POST it sends (a redirect when it is accepted). */
  async function submit(page: Page, button: string): Promise<number> {
    const [response] = await Promise.all([page.waitForResponse((r) => r.request().method() === "POST"), page.getByRole("button", { name: button }).click()]);
    return response.status();
  }

  it("one reviewer proposes, a second approves, and GnuPG sees the master's revocation on the owner's key", async (context) => {
    const { t, base } = portal;
    const rita = await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
    const ravi = await createStaff(t, { email: "ravi@keysign.example", roles: ["reviewer"] });
    const { id, applicant } = await submitRequest(t, "dev@example.org", "Dev");
    const certified = await certifyRequest(t, id);
    const certifiedKey = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(certifiedKey.statusCode, 200);
    const trusted = await relyingParty(certified, certifiedKey.body);
    assert.equal(trusted.validity, "f", "the master's certification gives full validity");
    assert.deepEqual(trusted.byMaster, ["sig:!:10x"]);

    const proposer = await staffPage(rita.email, rita.password);
    await proposer.goto(`${base}/admin/requests/${id}`);
    await proposer.getByLabel("Reason").selectOption({ label: "Malicious module" });
    await proposer.getByLabel(/^Explanation/).fill("The module sends the admin password to a remote host.");
    assert.equal(await submit(proposer, "Revoke certification"), 303);
    await proposer.getByRole("heading", { name: "Revocation: Waiting for approvals" }).waitFor();
    assert.match((await proposer.locator("#certification").textContent()) ?? "", /1 of 2 required/);
    assert.equal(await proposer.getByRole("button", { name: "Approve the revocation" }).count(), 0, "the proposal counts as the proposer's approval");
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "certified");

    const approver = await staffPage(ravi.email, ravi.password);
    await approver.goto(`${base}/admin/requests/${id}`);
    assert.equal(await submit(approver, "Approve the revocation"), 303, "the second reviewer's approval is accepted");
    const applied = approver.locator("#certification .alert-warning", { hasText: "Revoked on" });
    await applied.waitFor();
    assert.match((await applied.textContent()) ?? "", /Reason: Malicious module: The module sends the admin password to a remote host\./);
    assert.equal(await approver.locator(".page-head .state").textContent(), "Revoked");
    assert.equal(await approver.getByText("This form has expired").count(), 0);
    assert.equal((await t.app.db.request.findUniqueOrThrow({ where: { id } })).state, "revoked");
    assert.equal((await t.app.db.revocation.findFirstOrThrow({ where: { requestId: id } })).state, "applied");
    await mkdir(SCREENSHOTS, { recursive: true });
    await approver.screenshot({ path: path.join(SCREENSHOTS, "e2e-revocation-applied.png"), fullPage: true });

    // The staff download from the page is the very key the owner downloads.
    const [download] = await Promise.all([approver.waitForEvent("download"), approver.getByRole("link", { name: "Download the certified key" }).click()]);
    const staffCopy = await readFile(await download.path());
    const ownerCopy = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(ownerCopy.statusCode, 200);
    assert.equal(staffCopy.toString("utf8"), ownerCopy.body);

    const revoked = await relyingParty(certified, ownerCopy.body);
    assert.equal(revoked.userId, "Dev <dev@example.org>");
    assert.notEqual(revoked.validity, "f", `no longer fully valid:\n${revoked.listing}`);
    assert.ok(revoked.byMaster.includes("rev:!:30x"), revoked.masterLines.join("\n"));
    assert.ok(revoked.byMaster.includes("sig:!:10x"), "the certification stays, revoked");
    context.diagnostic(`user ID validity "${revoked.validity}"; the master's signatures on it:`);
    for (const line of revoked.masterLines) context.diagnostic(line);
  });
});
