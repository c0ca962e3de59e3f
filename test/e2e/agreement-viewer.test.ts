/**
 * The agreement viewer on the staff request page, in Chromium under the portal's real CSP (no
 * bypass): pdf.js from the portal draws every page of the agreement on canvases, fits a phone's
 * width, breaks no CSP rule, and says so plainly when the file cannot be drawn.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import type { Browser } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { textPdf } from "../helpers/pdf.ts";
import { submissionParts, submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

/** Collects every CSP violation the page or its worker reports, and the page's script errors. */
const WATCH_VIOLATIONS = `
  window.__violations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    window.__violations.push(event.violatedDirective + " " + event.blockedURI);
  });
`;

/** Non-white pixels on each canvas of the viewer. */
const INKED_PIXELS = `[...document.querySelectorAll("[data-pdf-pages] canvas")].map((canvas) => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let inked = 0;
  for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && data[i] + data[i + 1] + data[i + 2] < 600) inked += 1;
  return inked;
})`;

/** pdf.js's module, wrapped to record the options the viewer passes to getDocument. */
const RECORDING_PDFJS = (url: string) => `
  import * as pdfjs from "${url}?unwrapped";
  export * from "${url}?unwrapped";
  export function getDocument(options) {
    window.__pdfOptions = Object.fromEntries(Object.entries(options).filter(([name]) => name !== "data"));
    return pdfjs.getDocument(options);
  }
`;

describe("the agreement viewer on the staff request page", () => {
  let portal: LivePortal;
  let reviewer: Browser;
  let realAgreement: string;
  let threePages: string;
  let manyPages: string;

  before(async () => {
    portal = await startLivePortal();
    const { t } = portal;
    await createStaff(t, { email: "rita@keysign.example", roles: ["reviewer"] });
    reviewer = await signInStaff(t, "rita@keysign.example");
    // The agreement template applicants download and sign: the real fixture.
    realAgreement = (await submitRequest(t, "real@example.org")).id;
    const key = await makeTestKey([{ name: "Dev", email: "three@example.org" }]);
    const applicant = await signInAs(t, "three@example.org");
    const pdf = textPdf(["First page", "Second page", "Third page"]);
    const submitted = await applicant.postMultipart("/requests", await submissionParts(key, "Dev <three@example.org>", pdf), "/requests/new");
    assert.equal(submitted.statusCode, 303);
    threePages = String(submitted.headers.location).split("/").pop() ?? "";
    const manyKey = await makeTestKey([{ name: "Dev", email: "many@example.org" }]);
    const many = await (await signInAs(t, "many@example.org")).postMultipart("/requests", await submissionParts(manyKey, "Dev <many@example.org>", textPdf(Array.from({ length: 25 }, (_, i) => `Page ${i + 1}`))), "/requests/new");
    assert.equal(many.statusCode, 303);
    manyPages = String(many.headers.location).split("/").pop() ?? "";
  });
  after(async () => portal?.close());

  /** A Chromium context signed in as the reviewer, with the portal's CSP enforced as it is for people. */
  async function reviewerContext(width: number): Promise<BrowserContext> {
    const context = await portal.browser.newContext({ viewport: { width, height: 900 } });
    await context.addCookies([{ name: "ks_session", value: reviewer.cookie("ks_session") ?? "", url: portal.base }]);
    await context.addInitScript(WATCH_VIOLATIONS);
    return context;
  }

  /** Opens the request page, collecting console messages, and waits for the viewer to finish. */
  async function open(context: BrowserContext, id: string, state = "rendered"): Promise<{ page: Page; console: string[]; csp: string }> {
    const page = await context.newPage();
    const console: string[] = [];
    page.on("console", (message) => console.push(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`));
    // pdf.js's worker runs under the CSP its script was served with; its console is checked too.
    page.on("worker", (worker) => worker.on("console", (message) => console.push(`worker ${message.type()}: ${message.text()}`)));
    const response = await page.goto(`${portal.base}/admin/requests/${id}`);
    assert.equal(response?.status(), 200);
    await page.locator(`[data-pdf-viewer][data-state="${state}"]`).waitFor({ state: "attached" });
    return { page, console, csp: (await response?.headerValue("content-security-policy")) ?? "" };
  }

  it("draws the real agreement on a canvas with ink on it, under a CSP with no unsafe source and no violation", async () => {
    const context = await reviewerContext(1366);
    try {
      // Every address the page and pdf.js's worker ask for, and the options the viewer gives
      // pdf.js (its module is wrapped, from the portal's own origin, to record them).
      const requested: string[] = [];
      await context.route("**/*", (route) => {
        requested.push(route.request().url());
        return route.continue();
      });
      await context.route(/\/vendor\/pdfjs\/[^/]+\/pdf\.min\.mjs$/, (route) => route.fulfill({ contentType: "text/javascript", body: RECORDING_PDFJS(route.request().url()) }));
      const { page, console, csp } = await open(context, realAgreement);
      const options = await page.evaluate<Record<string, unknown>>("window.__pdfOptions");
      assert.equal(options.isEvalSupported, false, "pdf.js never evaluates strings as code");
      assert.equal(options.useWasm, false, "no WebAssembly, which the CSP would have to allow");
      assert.ok(typeof options.maxImageSize === "number" && options.maxImageSize > 0 && options.maxImageSize <= 25_000_000, "huge images are not drawn");
      for (const fetched of ["cMapUrl", "standardFontDataUrl", "wasmUrl", "iccUrl", "url"]) assert.equal(options[fetched], undefined, `no ${fetched}: pdf.js fetches nothing itself`);
      assert.deepEqual(requested.filter((url) => !url.startsWith(`${portal.base}/`)), [], "nothing is fetched from another origin");
      assert.doesNotMatch(csp, /unsafe-/);
      assert.match(csp, /worker-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      const inked = await page.evaluate<number[]>(INKED_PIXELS);
      assert.equal(inked.length, 1);
      assert.ok(inked[0]! > 500, `the page has ink (${inked[0]} dark pixels)`);
      assert.equal(await page.locator("[data-pdf-status]").textContent(), "1 page");
      assert.deepEqual(await page.evaluate<string[]>("window.__violations"), []);
      assert.deepEqual(console.filter((line) => /Content.Security.Policy|Refused to/i.test(line)), []);
      assert.deepEqual(console.filter((line) => line.startsWith("pageerror")), []);
      // The download stays beside the viewer.
      assert.equal(await page.getByRole("link", { name: "Download the agreement" }).count(), 1);
    } finally {
      await context.close();
    }
  });

  it("draws at most 20 pages of a longer PDF and says where the rest is", async () => {
    const context = await reviewerContext(1366);
    try {
      const { page } = await open(context, manyPages);
      assert.equal(await page.locator("[data-pdf-status]").textContent(), "The first 20 of 25 pages are shown: download the agreement to read the rest");
      assert.equal(await page.locator("[data-pdf-pages] canvas").count(), 20);
    } finally {
      await context.close();
    }
  });

  it("draws every page, says how many there are, and fits a phone's width; zoomed in, only the pages' box scrolls", async () => {
    const context = await reviewerContext(390);
    try {
      const { page } = await open(context, threePages);
      assert.equal(await page.locator("[data-pdf-status]").textContent(), "3 pages");
      const inked = await page.evaluate<number[]>(INKED_PIXELS);
      assert.equal(inked.length, 3);
      for (const [i, count] of inked.entries()) assert.ok(count > 500, `page ${i + 1} has ink (${count} dark pixels)`);
      const fit = await page.evaluate<{ canvas: number; box: number; overflow: boolean }>(`(() => {
        const box = document.querySelector("[data-pdf-pages]");
        return { canvas: box.querySelector("canvas").getBoundingClientRect().width, box: box.clientWidth, overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth };
      })()`);
      assert.ok(fit.canvas <= fit.box && fit.canvas > fit.box * 0.8, `a page fills the box's width (${fit.canvas} of ${fit.box})`);
      assert.equal(fit.overflow, false);

      await page.getByRole("button", { name: "Zoom in" }).click();
      await page.locator("[data-pdf-zoom-label]", { hasText: "125% of the width" }).waitFor();
      const zoomed = await page.evaluate<{ scroll: number; box: number; overflow: boolean }>(`(() => {
        const box = document.querySelector("[data-pdf-pages]");
        return { scroll: box.scrollWidth, box: box.clientWidth, overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth };
      })()`);
      assert.ok(zoomed.scroll > zoomed.box, "zoomed in, the pages are wider than their box");
      assert.equal(zoomed.overflow, false, "the page itself never scrolls sideways");
      await page.getByRole("button", { name: "Fit to width" }).click();
      await page.locator("[data-pdf-zoom-label]", { hasText: /^Fit to width$/ }).waitFor();
    } finally {
      await context.close();
    }
  });

  it("says the agreement could not be shown, and keeps the download, when the file cannot be drawn", async () => {
    const context = await reviewerContext(1366);
    try {
      await context.route(/\/admin\/requests\/[^/]+\/agreements\//, (route) => route.fulfill({ status: 200, contentType: "application/pdf", body: "%PDF-1.4\nnot really a PDF" }));
      const { page } = await open(context, realAgreement, "failed");
      assert.equal(await page.locator("[data-pdf-viewer]").isVisible(), false);
      assert.equal(await page.locator("[data-pdf-fallback]").textContent(), "The agreement could not be shown on this page. Download it and open it in a PDF reader.");
      assert.equal(await page.locator("[data-pdf-fallback]").isVisible(), true);
      assert.equal(await page.getByRole("link", { name: "Download the agreement" }).count(), 1);
    } finally {
      await context.close();
    }
  });
});
