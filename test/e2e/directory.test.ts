/**
 * The public directory and a key's page in a real browser on a phone-sized screen: the owner
 * publishes a user ID from the request page, a visitor searches for it and opens the key's page,
 * and no page scrolls sideways.
 */
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { certifyRequest, soleReviewer } from "../helpers/certified.ts";
import { submitRequest } from "../helpers/requests.ts";

const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");

async function assertNoSidewaysScroll(page: Page, label: string): Promise<void> {
  // Evaluated in the page, where `document` exists.
  const widths = await page.evaluate<{ scroll: number; client: number }>("({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })");
  assert.ok(widths.scroll <= widths.client, `${label} scrolls sideways: ${widths.scroll}px content in ${widths.client}px`);
}

describe("the public directory in a real browser", () => {
  let portal: LivePortal;
  before(async () => {
    portal = await startLivePortal();
    await soleReviewer(portal.t);
  });
  after(async () => portal?.close());

  it("finds a developer who published a user ID, opens the key's page, and fits a phone screen", async () => {
    const { t, base, browser } = portal;
    const { id, applicant } = await submitRequest(t, "listed.developer.with.a.long.address@example.org", "Lee Listed");
    const { fingerprint } = await certifyRequest(t, id);
    const userId = "Lee Listed <listed.developer.with.a.long.address@example.org>";
    assert.equal((await applicant.postForm(`/requests/${id}/publish`, { publishUserIds: userId }, `/requests/${id}`)).statusCode, 303);

    const page = await (await browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.goto(`${base}/`);
    await page.getByRole("link", { name: "Developers", exact: true }).click();
    await page.getByLabel("Name, email address or fingerprint").fill("lee");
    await page.getByRole("button", { name: "Search" }).click();
    assert.match(page.url(), /\/keys\?q=lee$/);
    await page.getByText("listed.developer.with.a.long.address@example.org").waitFor();
    await assertNoSidewaysScroll(page, "the directory");
    await page.screenshot({ path: path.join(SCREENSHOTS, "e2e-directory.png"), fullPage: true });

    await page.locator(`a[href="/keys/${fingerprint}"]`).click();
    await page.locator("p.state-certified").waitFor();
    assert.equal(new URL(page.url()).pathname, `/keys/${fingerprint}`);
    await assertNoSidewaysScroll(page, "the key's page");
    await page.screenshot({ path: path.join(SCREENSHOTS, "e2e-key-status.png"), fullPage: true });
  });
});
