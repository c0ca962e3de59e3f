import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { findLink, waitForMail } from "../helpers/smtp.ts";
import { formatFingerprint } from "../../src/core/key-policy.ts";

const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");

/** A real key and a real detached signature, made by the GnuPG on this machine. */
async function gpgKeyAndSignature(workDir: string, pdf: Buffer) {
  const home = path.join(workDir, "gnupg");
  await mkdir(home, { mode: 0o700 });
  const gpg = (...args: string[]) =>
    execFileSync("gpg", ["--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  gpg("--quick-gen-key", "Ada Developer <ada@example.org>", "ed25519", "sign,cert", "2y");
  gpg("--quick-add-key", (gpg("--with-colons", "--list-keys").toString().match(/^fpr:+([0-9A-F]{40}):/m) ?? [])[1] ?? "", "cv25519", "encr", "2y");
  const fingerprint = (gpg("--with-colons", "--list-keys").toString().match(/^fpr:+([0-9A-F]{40}):/m) ?? [])[1] ?? "";
  const pdfPath = path.join(workDir, "agreement.pdf");
  await writeFile(pdfPath, pdf);
  gpg("--armor", "--detach-sign", "--local-user", fingerprint, pdfPath);
  return { publicKey: gpg("--armor", "--export", fingerprint).toString(), fingerprint, pdfPath, signaturePath: `${pdfPath}.asc` };
}

describe("applicant journey in a real browser", () => {
  let portal: LivePortal;
  let workDir: string;

  before(async () => {
    // On the real clock: gpg makes the key now, and a key from the app's future would be refused.
    portal = await startLivePortal();
    workDir = await mkdtemp(path.join(tmpdir(), "keysign-e2e-"));
  });
  after(async () => {
    await portal?.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it("signs in with the emailed link, submits a request and finds it under My requests", async () => {
    const { base, browser, smtp } = portal;
    const pdf = await readFile(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf"));
    const key = await gpgKeyAndSignature(workDir, pdf);
    const page = await browser.newPage();

    await page.goto(`${base}/`);
    await page.getByRole("link", { name: "Start a request" }).click();
    await page.getByLabel("Email address").fill("ada@example.org");
    await page.getByRole("button", { name: "Email me a sign-in link" }).click();
    await page.getByRole("heading", { name: "Check your email" }).waitFor();

    const mail = await waitForMail(smtp, "ada@example.org");
    const link = new URL(findLink(mail, "/sign-in/link?token="));
    await page.goto(`${base}${link.pathname}${link.search}`);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "My requests" }).waitFor();

    await page.getByRole("link", { name: "New request" }).click();
    await page.getByLabel("Public key (armored)").fill(key.publicKey);
    await page.getByRole("button", { name: "Check key" }).click();
    await page.getByText("Step 2 of 2").waitFor();
    assert.equal(await page.getByRole("checkbox", { name: "Ada Developer <ada@example.org>", exact: true }).isChecked(), true);
    assert.equal(await page.getByRole("checkbox", { name: "List and find me as Ada Developer <ada@example.org>" }).isChecked(), false, "publishing is off unless ticked");
    await page.locator("#agreement").setInputFiles(key.pdfPath);
    await page.locator("#signature").setInputFiles(key.signaturePath);
    await page.getByLabel("Licence", { exact: true }).selectOption("GPL-3.0-or-later");
    await page.getByLabel("Project or repository addresses, one per line").fill("https://github.com/ada/freepbx-module");
    await page.getByLabel("My modules are open source under the licence above.").check();
    await page.getByLabel("I will not sign commercial modules with this key.").check();
    await page.getByLabel("I have read and signed the Key Signing Agreement.").check();
    await page.getByRole("button", { name: "Submit request" }).click();

    await page.waitForURL(/\/requests\/submitted\/[0-9a-f-]{36}$/, { timeout: 10_000 }).catch(async (error: unknown) => {
      const problems = await page.locator(".alert-error").allTextContents();
      throw new Error(`the request was not created: ${problems.join(" ") || String(error)}`);
    });
    // The confirmation page says what happens next, then hands over to the request.
    await page.getByRole("heading", { name: "Request received" }).waitFor();
    await page.getByRole("link", { name: "View your request" }).click();
    await page.waitForURL(/\/requests\/[0-9a-f-]{36}$/);
    await page.getByRole("heading", { name: "Certification request", exact: true }).waitFor();
    const grouped = formatFingerprint(key.fingerprint);
    assert.equal(await page.locator(".state").first().textContent(), "Submitted");
    assert.ok((await page.content()).includes(grouped));
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, "e2e-request.png"), fullPage: true });

    await page.getByRole("link", { name: "My requests" }).click();
    const row = page.getByRole("row").filter({ hasText: grouped });
    assert.equal(await row.count(), 1);
    assert.match((await row.textContent()) ?? "", /Submitted/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "e2e-my-requests.png"), fullPage: true });
  });
});
