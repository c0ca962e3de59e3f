/**
 * Checks one page as a person would meet it in Chromium: axe-core's rules, no sideways
 * scrolling, a CSRF token in every POST form, and a screenshot for people to look at.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Browser as Chromium, BrowserContext, Page } from "playwright-core";
import type { Browser as InjectBrowser } from "./http.ts";

export const SCREENSHOTS = path.resolve(import.meta.dirname, "..", ".tmp");
export const WIDTHS = [390, 1366] as const;

const AXE_SOURCE = await readFile(path.resolve(import.meta.dirname, "../../node_modules/axe-core/axe.min.js"), "utf8");

/** Cookies an inject-driven visitor holds that make the same visitor in Chromium. */
const CARRIED_COOKIES = ["ks_session", "ks_csrf"];

/**
 * A Chromium context for one visitor, signed in with `visitor`'s cookies when given.
 * `bypassCSP`: the portal's CSP allows scripts only from 'self', and axe-core is not one of
 * the portal's files; Playwright's option lets the test add it as an inline script while
 * the page's own scripts still come from the portal as usual.
 */
export async function contextFor(chromium: Chromium, base: string, visitor?: InjectBrowser): Promise<BrowserContext> {
  const context = await chromium.newContext({ bypassCSP: true, viewport: { width: WIDTHS[1], height: 900 } });
  const cookies = CARRIED_COOKIES.flatMap((name) => {
    const value = visitor?.cookie(name);
    return value === undefined ? [] : [{ name, value, url: base }];
  });
  if (cookies.length > 0) await context.addCookies(cookies);
  return context;
}

interface AxeViolation {
  id: string;
  help: string;
  nodes: Array<{ target: string[] }>;
}

/**
 * What axe-core reports on the page's current document, as sentences. The in-page code is a
 * string: the test project has no DOM types, and adding them globally clashes with Node's.
 */
export async function axeViolations(page: Page, skip: string[] = []): Promise<string[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
  const rules = JSON.stringify(Object.fromEntries(skip.map((id) => [id, { enabled: false }])));
  const violations = await page.evaluate<AxeViolation[]>(`
    window.axe.run(document, { rules: ${rules}, resultTypes: ["violations"] })
      .then((result) => result.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))
  `);
  return violations.map((v) => `${v.id} (${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

export interface WalkTally {
  pages: number;
  axe: number;
  overflow: number;
  problems: string[];
}

export function newTally(): WalkTally {
  return { pages: 0, axe: 0, overflow: 0, problems: [] };
}

interface Layout {
  scrollWidth: number;
  clientWidth: number;
  /** Actions of POST forms without a non-empty `_csrf`. */
  emptyTokens: string[];
  title: string;
  firstFocusable: string;
  /** Whether an error summary, when the page has one, holds the focus. */
  summaryFocused: boolean;
  /** Error summary links whose message is not on the page. */
  brokenSummaryLinks: string[];
}

const LAYOUT_SCRIPT = `(() => {
  const root = document.documentElement;
  const forms = [...document.querySelectorAll("form")].filter((form) => form.method.toLowerCase() === "post");
  const emptyTokens = forms
    .filter((form) => !(form.querySelector('input[name="_csrf"]')?.value ?? ""))
    .map((form) => form.getAttribute("action") ?? "(no action)");
  const first = document.querySelector("a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])");
  const summary = document.querySelector("[data-error-summary]");
  const brokenSummaryLinks = [...(summary?.querySelectorAll("a[href^='#']") ?? [])]
    .map((link) => link.getAttribute("href"))
    .filter((href) => !document.getElementById(href.slice(1)));
  return {
    scrollWidth: root.scrollWidth,
    clientWidth: root.clientWidth,
    emptyTokens,
    title: document.title,
    firstFocusable: first?.textContent?.trim() ?? "",
    summaryFocused: !summary || document.activeElement === summary,
    brokenSummaryLinks,
  };
})()`;

async function checkLayout(page: Page): Promise<Layout> {
  return page.evaluate<Layout>(LAYOUT_SCRIPT);
}

/** Whether the page scrolls sideways. */
export async function overflows(page: Page): Promise<boolean> {
  return page.evaluate<boolean>("document.documentElement.scrollWidth > document.documentElement.clientWidth");
}

/**
 * Checks the page already loaded in `page` at each width and saves a screenshot per width.
 * Problems are added to `tally` so one walk reports everything at once.
 */
export async function auditLoadedPage(page: Page, name: string, tally: WalkTally): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  tally.pages += 1;
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    const violations = await axeViolations(page);
    tally.axe += violations.length;
    tally.problems.push(...violations.map((v) => `${name} @${width}: ${v}`));
    const layout = await checkLayout(page);
    if (layout.scrollWidth > layout.clientWidth) {
      tally.overflow += 1;
      tally.problems.push(`${name} @${width}: scrolls sideways (${layout.scrollWidth} > ${layout.clientWidth})`);
    }
    // Every page names itself in its title, and a keyboard reaches the skip link first.
    if (width === WIDTHS[0] && !/^.+ · Keysign$/.test(layout.title)) tally.problems.push(`${name}: the title "${layout.title}" does not name the page`);
    if (width === WIDTHS[0] && layout.firstFocusable !== "Skip to main content") tally.problems.push(`${name}: the first focusable element is "${layout.firstFocusable}", not the skip link`);
    if (width === WIDTHS[0] && !layout.summaryFocused) tally.problems.push(`${name}: the error summary does not take the focus`);
    tally.problems.push(...layout.brokenSummaryLinks.map((href) => `${name}: the error summary links to ${href}, which is not on the page`));
    tally.problems.push(...layout.emptyTokens.map((action) => `${name}: the form posting to ${action} has no CSRF token`));
    await page.screenshot({ path: path.join(SCREENSHOTS, `walk-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}-${width}.png`), fullPage: true });
  }
}

/** Loads `url` (a path on the portal) and checks it; `status` is the answer expected. */
export async function auditUrl(page: Page, base: string, url: string, name: string, tally: WalkTally, status = 200): Promise<void> {
  const response = await page.goto(`${base}${url}`);
  if (response?.status() !== status) {
    tally.problems.push(`${name}: ${url} answered ${response?.status() ?? "nothing"}, expected ${status}`);
    return;
  }
  await auditLoadedPage(page, name, tally);
}

/**
 * Shows `html` (a page the portal answered to a POST, such as a form re-rendered with its
 * errors) at a portal address, so its styles and scripts load as they would after the post.
 */
export async function auditHtml(page: Page, base: string, html: string, name: string, tally: WalkTally): Promise<void> {
  const at = `${base}/__walk/${encodeURIComponent(name)}`;
  await page.route(at, (route) => route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: html }));
  await page.goto(at);
  await auditLoadedPage(page, name, tally);
  await page.unroute(at);
}
