/**
 * "Check a module" in a real browser on a phone-sized screen: a visitor opens the page from the
 * header, chooses a module.sig and a .tgz in which one long-named file was changed, and reads
 * the verdict, the signer's standing and the file named; the page never scrolls sideways.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { moduleTgz, signModule } from "../helpers/module-archive.ts";
import { submitRequest } from "../helpers/requests.ts";

const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");
/** Long, and without spaces to break at; under the 100 bytes a plain tar header holds with "hello/". */
const LONG = "assets/js/vendor/a-really-long-vendored-library-name-with-no-spaces.bundle.min.js";
const FILES = { "module.xml": "<module/>\n", "Hello.class.php": "<?php\n", [LONG]: "console.log(1);\n" };

async function assertNoSidewaysScroll(page: Page, label: string): Promise<void> {
  const widths = await page.evaluate<{ scroll: number; client: number }>("({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })");
  assert.ok(widths.scroll <= widths.client, `${label} scrolls sideways: ${widths.scroll}px content in ${widths.client}px`);
}

describe("checking a module in a real browser", () => {
  let portal: LivePortal;
  let files: string;
  before(async () => {
    portal = await startLivePortal();
    files = await mkdtemp(path.join(tmpdir(), "keysign-check-"));
  });
  after(async () => {
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it("shows the verdict, the signer's standing and the altered file, and fits a phone screen", async () => {
    const { t, base, browser } = portal;
    const { id, key } = await submitRequest(t, "checked@example.org", "Cat Checked");
    const { fingerprint } = await certifyRequest(t, id);
    await writeFile(path.join(files, "module.sig"), await signModule(key.privateArmored, FILES, new Date(t.clock.now.getTime() - 1_800_000)));
    await writeFile(path.join(files, "hello-1.0.tgz"), moduleTgz("hello", { ...FILES, [LONG]: "steal();\n" }));

    const page = await (await browser.newContext({ viewport: { width: 360, height: 740 } })).newPage();
    await mkdir(SCREENSHOTS, { recursive: true });
    await page.goto(`${base}/`);
    await page.getByRole("link", { name: "Check a module" }).first().click();
    assert.equal(new URL(page.url()).pathname, "/check-module");
    await assertNoSidewaysScroll(page, "the empty form");
    await page.getByLabel("module.sig (required, at most 2 MiB)").setInputFiles(path.join(files, "module.sig"));
    await page.getByLabel(/The module's archive/).setInputFiles(path.join(files, "hello-1.0.tgz"));
    await page.getByRole("button", { name: "Check the module" }).click();
    await page.getByText("Tampered with").waitFor();
    await page.getByText(`${LONG} was altered`, { exact: false }).first().waitFor();
    assert.equal(await page.locator(`a[href="/keys/${fingerprint}"]`).count(), 2, "the signer and the standing link to the key's page");
    await assertNoSidewaysScroll(page, "the result");
    await page.screenshot({ path: path.join(SCREENSHOTS, "e2e-check-module.png"), fullPage: true });
  });
});
