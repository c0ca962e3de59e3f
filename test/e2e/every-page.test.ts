/**
 * Walks every page and state for each kind of person in Chromium at a phone's width (390) and
 * a desktop's (1366): axe-core finds no violation, nothing scrolls sideways, every POST form
 * carries a CSRF token, and a screenshot of each lands in test/.tmp/ for people to look at.
 * The states are built through the real routes first; each person then gets one browser
 * context holding their session. Pages a POST answers (a form re-rendered with its errors)
 * are shown at a portal address exactly as the portal answered them.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Page } from "playwright-core";
import { renderEmail, EMAIL_SUBJECTS, type EmailTemplate } from "../../src/services/mail-templates.ts";
import { issueSetupLink } from "../../src/services/staff-accounts.ts";
import { totpCode, totpStep } from "../../src/core/totp.ts";
import { startLivePortal, type LivePortal } from "../helpers/browser.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { moduleTgz, signModule } from "../helpers/module-archive.ts";
import { auditHtml, auditLoadedPage, auditUrl, axeViolations, contextFor, newTally, overflows } from "../helpers/page-audit.ts";
import { submissionParts, submitRequest } from "../helpers/requests.ts";
import { makeMaster, queuedRequest, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";
// Signing pages and the admin's setup checklist (issue 12).
import { exportBatch, queuedRevocation, signBatch } from "../helpers/signing-queue.ts";
import { createStaff } from "../helpers/staff.ts";
import { SAMPLE_CONTACT, SAMPLE_FINGERPRINT, sampleEmailData } from "../helpers/email-samples.ts";
import { findLink, waitForMail } from "../helpers/smtp.ts";

const PASSPHRASE = "a long enough passphrase 42";
/** A small module for the "Check a module" result page; the walk's archive alters one file. */
const MODULE_FILES = { "module.xml": "<module><rawname>hello</rawname></module>\n", "Hello.class.php": "<?php // hello\n", "views/main.php": "<p>hello</p>\n" };

interface States {
  waiting: string;
  halfApproved: string;
  changes: string;
  rejected: string;
  withdrawn: string;
  queued: string;
  certified: string;
  fingerprint: string;
  /** The certified key's module.sig over MODULE_FILES, and the module as a .tgz. */
  moduleSig: Buffer;
  moduleTgz: Buffer;
  revoking: string;
  batchPage: string;
  applicant: Browser;
  /** Each request's applicant, signed in. */
  owners: Map<string, Browser>;
}

async function version(browser: Browser, url: string): Promise<string> {
  return /name="version" value="(\d+)"/.exec((await browser.get(url)).body)?.[1] ?? "";
}

async function decide(browser: Browser, id: string, action: string, fields: Record<string, string> = {}): Promise<void> {
  const page = `/admin/requests/${id}`;
  const response = await browser.postForm(`${page}/${action}`, { version: await version(browser, page), ...fields }, page);
  if (response.statusCode !== 303) throw new Error(`${action} on ${id} answered ${response.statusCode}`);
}

/** One applicant with a request in each state, and the staff side that goes with them. */
async function buildStates(desk: SigningDesk): Promise<States> {
  const { t } = desk;
  const [rita] = desk.reviewers;
  const waiting = await submitRequest(t, "waiting@example.org", "Dev");
  const halfApproved = await submitRequest(t, "halfapproved@example.org", "Dev");
  await decide(rita, halfApproved.id, "approve");
  const changes = await submitRequest(t, "changes@example.org", "Dev");
  await decide(rita, changes.id, "request-changes", { reason: "Please sign page 2 of the agreement." });
  const rejected = await submitRequest(t, "rejected@example.org", "Dev");
  await decide(rita, rejected.id, "reject", { reason: "This key is not used to sign modules." });
  const withdrawn = await submitRequest(t, "withdrawn@example.org", "Dev");
  const page = `/requests/${withdrawn.id}`;
  await withdrawn.applicant.postForm(`${page}/withdraw`, { version: await version(withdrawn.applicant, page) }, page);
  const queued = await queuedRequest(desk, "queued@example.org", "Dev");
  const certified = await submitRequest(t, "certified@example.org", "Dev");
  const { fingerprint } = await certifyRequest(t, certified.id, { master: desk.master });
  const revoking = await submitRequest(t, "old@example.org", "Old");
  await certifyRequest(t, revoking.id, { master: desk.master });
  await decide(rita, revoking.id, "revocations", { reasonCode: "key_compromised", reasonText: "" });
  const exported = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
  if (exported.statusCode !== 303) throw new Error(`export answered ${exported.statusCode}: ${exported.body.slice(0, 300)}`);
  const batchPage = String(exported.headers.location).replace(/\?.*$/, "");
  return {
    waiting: waiting.id,
    halfApproved: halfApproved.id,
    changes: changes.id,
    rejected: rejected.id,
    withdrawn: withdrawn.id,
    queued: queued.id,
    certified: certified.id,
    fingerprint,
    moduleSig: await signModule(certified.key.privateArmored, MODULE_FILES, new Date(t.clock.now.getTime() - 60_000)),
    moduleTgz: moduleTgz("hello", { ...MODULE_FILES, "module.xml": "<module>altered</module>\n" }),
    revoking: revoking.id,
    batchPage,
    applicant: certified.applicant,
    owners: new Map([waiting, halfApproved, changes, rejected, withdrawn, queued, certified].map((r) => [r.id, r.applicant])),
  };
}

describe("every page in Chromium, for every kind of person, at 390 and 1366 wide", () => {
  let portal: LivePortal;
  let desk: SigningDesk;
  let states: States;
  const tally = newTally();

  before(async () => {
    portal = await startLivePortal();
    desk = await signingDesk(portal.t);
    states = await buildStates(desk);
  });
  after(async () => portal?.close());

  /** Runs `walk` in a fresh context for `visitor` and closes it whatever happens. */
  async function as(visitor: Browser | undefined, walk: (page: Page) => Promise<void>): Promise<void> {
    const context = await contextFor(portal.browser, portal.base, visitor);
    try {
      await walk(await context.newPage());
    } finally {
      await context.close();
    }
  }

  /** Every email template rendered with the sample data, checked with axe and for sideways scrolling at 390 px. */
  async function auditEveryEmail(contactAddress: string | null, label: string): Promise<void> {
    const page = await portal.browser.newPage({ viewport: { width: 390, height: 900 } });
    try {
      for (const template of Object.keys(EMAIL_SUBJECTS) as EmailTemplate[]) {
        await page.setContent(renderEmail(template, sampleEmailData(), { contactAddress }).html);
        // An email has no page landmarks: the mail client frames it, and the subject is its heading.
        const violations = await axeViolations(page, ["region", "landmark-one-main", "page-has-heading-one"]);
        tally.axe += violations.length;
        tally.pages += 1;
        tally.problems.push(...violations.map((v) => `email ${template}${label}: ${v}`));
        if (await overflows(page)) {
          tally.overflow += 1;
          tally.problems.push(`email ${template}${label}: scrolls sideways at 390`);
        }
      }
    } finally {
      await page.close();
    }
  }

  function report(before: number): void {
    assert.deepEqual(tally.problems.slice(before), []);
  }

  it("anonymous visitors: landing, sign-in and its answers, the directory, a key, staff sign-in, setup and invitation links", async () => {
    const { t, base, smtp } = portal;
    const from = tally.problems.length;
    const visitor = new Browser(t.app);
    const sent = await visitor.postForm("/sign-in", { address: "visitor@example.org" }, "/sign-in");
    const refused = await visitor.postForm("/sign-in", { address: "not an address" }, "/sign-in");
    // The refused field is marked and described by its message, which the summary links to.
    assert.match(refused.body, /<input id="address"[^>]* aria-invalid="true" aria-describedby="address-error">/);
    assert.match(refused.body, /<p class="field-error" id="address-error">/);
    assert.match(refused.body, /<a href="#address-error">/);
    const link = new URL(findLink(await waitForMail(smtp, "visitor@example.org"), "/sign-in/link?token="));
    const wrong = await visitor.postForm("/admin/login", { email: "rita@keysign.example", password: "not the password" }, "/admin/login");
    const moduleParts = (sig: Buffer, archive?: Buffer) => [
      { name: "moduleSig", filename: "module.sig", content: sig },
      ...(archive ? [{ name: "archive", filename: "hello.tgz", content: archive }] : []),
    ];
    const checked = await visitor.postMultipart("/check-module", moduleParts(states.moduleSig, states.moduleTgz), "/check-module");
    assert.equal(checked.statusCode, 200);
    const unreadable = await visitor.postMultipart("/check-module", moduleParts(Buffer.from("not a module.sig")), "/check-module");
    assert.ok(unreadable.statusCode >= 400 && unreadable.statusCode < 500, `a broken module.sig answers ${unreadable.statusCode}`);
    const setup = new URL((await issueSetupLink(t.app.db, { address: "", roles: ["reviewer"], publicUrl: base, ip: "127.0.0.1", replaceFirstStart: false }, t.clock.now)).url);
    await desk.admin.postForm("/admin/staff/invite", { email: "invitee@keysign.example", roles: "reviewer" }, "/admin/staff");
    const invite = new URL(findLink(await waitForMail(smtp, "invitee@keysign.example"), "/admin/invite?token="));
    await as(visitor, async (page) => {
      await auditUrl(page, base, "/", "anonymous landing", tally);
      await auditUrl(page, base, "/sign-in", "anonymous sign-in", tally);
      await auditHtml(page, base, sent.body, "anonymous sign-in link sent", tally);
      await auditHtml(page, base, refused.body, "anonymous sign-in refused", tally);
      await auditUrl(page, base, `${link.pathname}${link.search}`, "anonymous sign-in link", tally);
      await auditUrl(page, base, "/keys", "anonymous key directory", tally);
      await auditUrl(page, base, `/keys/${states.fingerprint}`, "anonymous key page", tally);
      await auditUrl(page, base, "/check-module", "anonymous check a module", tally);
      await auditHtml(page, base, checked.body, "anonymous check a module, result with files", tally);
      await auditHtml(page, base, unreadable.body, "anonymous check a module refused", tally);
      await auditUrl(page, base, "/no-such-page", "anonymous not found", tally, 404);
      await auditUrl(page, base, "/admin/login", "anonymous staff sign-in", tally);
      await auditHtml(page, base, wrong.body, "anonymous staff sign-in refused", tally);
      await auditUrl(page, base, `${setup.pathname}${setup.search}`, "anonymous staff setup", tally);
      await auditUrl(page, base, `${invite.pathname}${invite.search}`, "anonymous staff invitation", tally);
    });
    report(from);
  });

  it("staff half-way through signing in: the second factor and the authenticator enrolment", async () => {
    const { t, base, smtp } = portal;
    const from = tally.problems.length;
    const { password } = await createStaff(t, { email: "pending@keysign.example", roles: ["reviewer"] });
    const pending = new Browser(t.app);
    await pending.postForm("/admin/login", { email: "pending@keysign.example", password }, "/admin/login");
    await as(pending, async (page) => auditUrl(page, base, "/admin/login/totp", "pending staff second factor", tally));

    await desk.admin.postForm("/admin/staff/invite", { email: "newbie@keysign.example", roles: "reviewer" }, "/admin/staff");
    const token = new URL(findLink(await waitForMail(smtp, "newbie@keysign.example"), "/admin/invite?token=")).searchParams.get("token") ?? "";
    const newbie = new Browser(t.app);
    await newbie.postForm("/admin/invite", { token, email: "", password: PASSPHRASE, passwordAgain: PASSPHRASE }, `/admin/invite?token=${token}`);
    const refused = await newbie.postForm("/admin/enrol", { code: "000000" }, "/admin/enrol");
    const secret = /<code>([A-Z2-7 ]+)<\/code>/.exec((await newbie.get("/admin/enrol")).body)?.[1]?.replace(/ /g, "") ?? "";
    await as(newbie, async (page) => {
      await auditUrl(page, base, "/admin/enrol", "new staff enrolment", tally);
      await auditHtml(page, base, refused.body, "new staff enrolment refused", tally);
    });
    // The recovery codes page (shown once, so audited from the enrolment's answer).
    const codes = await newbie.postForm("/admin/enrol", { code: totpCode(secret, totpStep(t.clock.now)) }, "/admin/enrol");
    assert.match(codes.body, /Your recovery codes/);
    await as(newbie, async (page) => auditHtml(page, base, codes.body, "new staff recovery codes", tally));
    report(from);
  });

  it("an applicant with requests in every state: list, account, both request steps, each request, a revision and a key update", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    const dev = states.applicant;
    const key = await makeTestKey([{ name: "Dev", email: "certified@example.org" }]);
    const details = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    const refusedKey = await dev.postMultipart("/requests/new", [{ name: "keyText", value: "not a key" }], "/requests/new");
    const refusedDetails = await dev.postMultipart("/requests", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    await as(dev, async (page) => {
      await auditUrl(page, base, "/requests", "applicant requests", tally);
      await auditUrl(page, base, "/account", "applicant account", tally);
      await auditUrl(page, base, `/requests/${states.certified}`, "applicant request certified", tally);
      await auditUrl(page, base, "/requests/new", "applicant new request key step", tally);
      await auditHtml(page, base, details.body, "applicant new request details step", tally);
      await auditHtml(page, base, refusedKey.body, "applicant key refused", tally);
      await auditHtml(page, base, refusedDetails.body, "applicant details refused", tally);
      await auditUrl(page, base, `/account/requests/${states.certified}/key-update`, "applicant key update", tally);
    });
    for (const state of ["waiting", "halfApproved", "changes", "rejected", "withdrawn", "queued"] as const) {
      const id = states[state];
      await as(states.owners.get(id), async (page) => {
        await auditUrl(page, base, `/requests/${id}`, `applicant request ${state}`, tally);
        if (state === "changes") await auditUrl(page, base, `/requests/${id}/revise`, "applicant revision", tally);
        if (state === "waiting") await auditUrl(page, base, `/requests/submitted/${id}`, "applicant request received", tally);
      });
    }
    report(from);
  });

  it("a reviewer: dashboard, the list, a request in each state, and a decision refused", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    const [rita] = desk.reviewers;
    const refused = await rita.postForm(`/admin/requests/${states.waiting}/reject`, { version: await version(rita, `/admin/requests/${states.waiting}`), reason: "" }, `/admin/requests/${states.waiting}`);
    await as(rita, async (page) => {
      await auditUrl(page, base, "/admin", "reviewer dashboard", tally);
      await auditUrl(page, base, "/admin/requests", "reviewer requests", tally);
      for (const state of ["waiting", "halfApproved", "changes", "rejected", "queued", "certified", "revoking"] as const) {
        await auditUrl(page, base, `/admin/requests/${states[state]}`, `reviewer request ${state}`, tally);
      }
      await auditHtml(page, base, refused.body, "reviewer rejection refused", tally);
    });
    report(from);
  });

  it("a signing officer: the queue, an open batch, the import page and a refused import", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    // Something waiting, so the queue shows the export form and its confirmation.
    await queuedRequest(desk, "waiting-export@example.org");
    const refused = await desk.officer.postMultipart("/admin/signing/import", [{ name: "result", filename: "result.json", content: Buffer.from("{}") }], "/admin/signing/import");
    await as(desk.officer, async (page) => {
      await auditUrl(page, base, "/admin", "officer dashboard", tally);
      await auditUrl(page, base, "/admin/signing", "officer signing queue", tally);
      await auditUrl(page, base, states.batchPage, "officer open batch", tally);
      await auditUrl(page, base, "/admin/signing/import", "officer import", tally);
      await auditHtml(page, base, refused.body, "officer import refused", tally);
    });
    report(from);
  });

  it("an admin: dashboard, audit, settings and their errors, staff, a staff member, publication", async () => {
    const { t, base } = portal;
    const from = tally.problems.length;
    const ada = desk.admin;
    const refused = await ada.postForm("/admin/settings", { approvalsRequired: "0", certificationValidityDays: "730", policyUrl: "" }, "/admin/settings");
    const rita = await t.app.db.staff.findUniqueOrThrow({ where: { email: "rita@keysign.example" } });
    const gone = await createStaff(t, { email: "gone@keysign.example", roles: ["reviewer"], disabled: true });
    const invited = String((await ada.postForm("/admin/staff/invite", { email: "named@keysign.example", roles: "admin" }, "/admin/staff")).headers.location);
    await as(ada, async (page) => {
      await auditUrl(page, base, "/admin", "admin dashboard", tally);
      await auditUrl(page, base, "/admin/audit", "admin audit", tally);
      await auditUrl(page, base, "/admin/settings", "admin settings", tally);
      await auditHtml(page, base, refused.body, "admin settings refused", tally);
      await auditUrl(page, base, "/admin/settings?saved=master", "admin settings, master key saved", tally);
      await auditUrl(page, base, "/admin/staff", "admin staff", tally);
      await auditUrl(page, base, invited, "admin staff, invitation sent", tally);
      await auditUrl(page, base, `/admin/staff/${rita.id}`, "admin staff member", tally);
      await auditUrl(page, base, `/admin/staff/${gone.id}`, "admin disabled staff member", tally);
      await auditUrl(page, base, "/admin/publication", "admin publication", tally);
    });
    report(from);
  });

  it("copies a command with its Copy button, and shows the command without a button when scripts are off", async () => {
    const { base } = portal;
    const url = `${base}/requests/${states.certified}`;
    const expected = `gpg --check-sigs ${states.fingerprint}`;
    const scripted = await contextFor(portal.browser, base, states.applicant);
    try {
      await scripted.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
      const page = await scripted.newPage();
      await page.goto(url);
      const block = page.locator("[data-command]", { hasText: expected });
      await block.getByRole("button", { name: "Copy the command" }).click();
      await block.getByRole("button", { name: "Copied the command" }).waitFor();
      assert.equal(await page.evaluate<string>("navigator.clipboard.readText()"), expected);
      assert.equal(await block.getByRole("status").textContent(), "Command copied");
    } finally {
      await scripted.close();
    }
    const plain = await portal.browser.newContext({ javaScriptEnabled: false });
    try {
      await plain.addCookies([{ name: "ks_session", value: states.applicant.cookie("ks_session") ?? "", url: base }]);
      const page = await plain.newPage();
      await page.goto(url);
      const block = page.locator("[data-command]", { hasText: expected });
      assert.equal(await block.locator("code").textContent(), expected);
      assert.equal(await block.locator("button").isVisible(), false, "no button that would do nothing");
    } finally {
      await plain.close();
    }
  });

  it("every HTML email", async () => {
    const from = tally.problems.length;
    // Fingerprints read in groups of four; a command keeps it whole, so it can be typed as shown.
    const certified = renderEmail("request-certified", sampleEmailData(), { contactAddress: SAMPLE_CONTACT }).html;
    assert.match(certified, />0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567</);
    assert.match(certified, new RegExp(`gpg --check-sigs ${SAMPLE_FINGERPRINT}<`));
    await auditEveryEmail(SAMPLE_CONTACT, "");
    report(from);
  });

  // ——— Contact address and the start page (issue 12): keep additions for this feature in this block. ———
  it("the contact address: refused and saved on the settings page, then on the start page, an error page and every email without it", async () => {
    const { t, base } = portal;
    const from = tally.problems.length;
    const ada = desk.admin;
    const current = await t.app.settings.read();
    const form = {
      approvalsRequired: String(current.approvalsRequired),
      certificationValidityDays: String(current.certificationValidityDays),
      openRequestsPerApplicant: String(current.openRequestsPerApplicant),
      policyUrl: current.policyUrl,
      organisationName: current.organisationName,
      certificationDomain: current.certificationDomain,
    };
    const refused = await ada.postForm("/admin/settings", { ...form, contactAddress: "security at example.org" }, "/admin/settings");
    assert.equal(refused.statusCode, 400);
    const saved = await ada.postForm("/admin/settings", { ...form, contactAddress: "security@example.org" }, "/admin/settings");
    assert.equal(saved.statusCode, 303);
    await as(ada, async (page) => {
      await auditHtml(page, base, refused.body, "admin settings, contact address refused", tally);
      await auditUrl(page, base, "/admin/settings?saved=1", "admin settings, contact address saved", tally);
    });
    await as(new Browser(t.app), async (page) => {
      await auditUrl(page, base, "/", "anonymous landing with the contact address", tally);
      await auditUrl(page, base, "/no-such-page", "anonymous not found with the contact address", tally, 404);
    });
    await auditEveryEmail(null, " without a contact address");
    report(from);
  });
  // ——— end of the contact address block ———

  // ---- Signing pages and the admin's setup checklist (issue 12): keep additions in this block ----
  it("signing pages with every kind of item, an import that certifies, revokes and declines; an admin's setup checklist", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    await queuedRequest(desk, "walk-certify@example.org", "Walk Certify");
    const declined = await queuedRequest(desk, "walk-decline@example.org", "Walk Decline");
    await queuedRevocation(desk, "walk-revoke@example.org", "Walk Revoke");
    await as(desk.officer, async (page) => auditUrl(page, base, "/admin/signing", "officer signing queue with keys and a revocation", tally));
    const { number, file } = await exportBatch(desk);
    await as(desk.officer, async (page) => auditUrl(page, base, `/admin/signing/batches/${number}`, "officer batch with every kind of item", tally));
    const result = await signBatch(file, desk.master, { decline: new Map([[declined.id, "The second page of the agreement is not signed."]]) });
    // The live portal runs on the real clock; the signatures' minute ahead is within the allowed skew.
    const imported = await desk.officer.postMultipart("/admin/signing/import", [{ name: "result", filename: "result.json", content: Buffer.from(result) }], "/admin/signing/import");
    assert.equal(imported.statusCode, 200, imported.body.slice(0, 500));
    assert.match(imported.body, /<h2 id="imported-certified">[\s\S]*<h2 id="imported-revoked">[\s\S]*<h2 id="imported-declined">/);
    await as(desk.officer, async (page) => {
      await auditHtml(page, base, imported.body, "officer import certified, revoked and declined", tally);
      await auditUrl(page, base, `/admin/signing/batches/${number}`, "officer imported batch", tally);
    });
    // The live portal sends mail and has a master key, a domain and two reviewers, but no signing schedule.
    const ada = desk.admin;
    const dashboard = (await ada.get("/admin")).body;
    assert.match(dashboard, /Set up the portal/);
    assert.match(dashboard, /id="setup-schedule-status"><strong class="task-tag">To do/);
    assert.match(dashboard, /id="setup-master-key-status">Done/);
    await as(ada, async (page) => auditUrl(page, base, "/admin", "admin dashboard, setup checklist partly done", tally));
    await ada.postForm("/admin/setup-checklist", { show: "no" }, "/admin");
    await as(ada, async (page) => auditUrl(page, base, "/admin", "admin dashboard, setup checklist hidden", tally));
    await ada.postForm("/admin/setup-checklist", { show: "yes" }, "/admin");
    report(from);
  });
  // ---- end of issue 12's signing pages and setup checklist ----

  // ---- The staff request page (issue 12): the agreement drawn by pdf.js, the banner after each decision, a refused approval. ----
  it("a reviewer's request page: the agreement viewer drawn, the banner after each decision, and an approval refused", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    const [rita, ravi] = desk.reviewers;
    const queued = await queuedRequest(desk, "banner-queued@example.org", "Dev");
    const fresh = await submitRequest(portal.t, "stale-approval@example.org", "Dev");
    const stalePage = `/admin/requests/${fresh.id}`;
    const staleVersion = await version(rita, stalePage);
    await decide(ravi, fresh.id, "approve");
    const refused = await rita.postForm(`${stalePage}/approve`, { version: staleVersion }, stalePage);
    assert.equal(refused.statusCode, 409);
    await as(rita, async (page) => {
      await page.goto(`${base}/admin/requests/${states.waiting}`);
      await page.locator('[data-pdf-viewer][data-state="rendered"]').waitFor({ state: "attached" });
      await auditLoadedPage(page, "reviewer request with the agreement drawn", tally);
      await auditUrl(page, base, `/admin/requests/${states.halfApproved}?decided=approved`, "reviewer after approving, one more needed", tally);
      await auditUrl(page, base, `/admin/requests/${states.changes}?decided=changes-requested`, "reviewer after asking for changes", tally);
      await auditUrl(page, base, `/admin/requests/${states.rejected}?decided=rejected`, "reviewer after rejecting", tally);
      await auditHtml(page, base, refused.body, "reviewer approval refused, page changed", tally);
    });
    await as(ravi, async (page) => {
      await auditUrl(page, base, `/admin/requests/${queued.id}?decided=approved`, "reviewer after the last approval, queued", tally);
    });
    await as(desk.officer, async (page) => auditUrl(page, base, `/admin/requests/${states.waiting}`, "officer request page, no decision buttons", tally));
    report(from);
  });
  // ---- End of the staff request page block. ----

  // ---- The applicant's forms (issue 12): held files after an error, the revision, sending a
  // confirmation link from step two, and removing an address. ----
  it("an applicant's forms: files kept after an error, the revision and its key step, a link sent from step two, removing an address", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    const dev = states.applicant;
    const key = await makeTestKey([{ name: "Dev", email: "certified@example.org" }, { name: "Dev at Work", email: "dev@work.example" }]);
    const agreement = { name: "agreement", filename: "my signed agreement.pdf", content: await readFile(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf")) };
    const fields = [{ name: "keyText", value: key.publicArmored }, { name: "certifyUserIds", value: "Dev <certified@example.org>" }, { name: "licence", value: "GPL-3.0-or-later" }];
    const held = await dev.postMultipart("/requests", [...fields, agreement], "/requests/new");
    assert.match(held.body, /is kept — choose another file to replace it/);
    const sent = await dev.postMultipart("/requests/refresh", [...fields, { name: "sendConfirmation", value: "dev@work.example" }], "/requests/new");
    assert.match(sent.body, /We sent a confirmation link to/);
    await dev.postForm("/account/addresses", { address: "spare@work.example" }, "/account");
    const removed = await dev.postForm("/account/addresses/remove", { address: "spare@work.example", confirm: "yes" }, "/account");
    assert.match(removed.body, /was removed from your account/);
    await dev.postForm("/account/addresses", { address: "other@work.example" }, "/account");
    await as(dev, async (page) => {
      await auditHtml(page, base, held.body, "applicant details refused, files kept", tally);
      await auditHtml(page, base, sent.body, "applicant details, confirmation link sent", tally);
      await auditUrl(page, base, "/account/addresses/remove?address=other%40work.example", "applicant address removal confirmation", tally);
      await auditUrl(page, base, "/account/addresses/remove?address=certified%40example.org", "applicant address removal refused", tally);
      await auditHtml(page, base, removed.body, "applicant account, address removed", tally);
    });
    await as(states.owners.get(states.changes), async (page) => {
      await auditUrl(page, base, `/requests/${states.changes}/revise/key`, "applicant revision, replace the key", tally);
    });
    report(from);
  });
  // ---- end of the applicant's forms ----

  // ---- Staff lists: the request list (choices, approvals, warnings, empty) and the audit log (filters, empty, refused range) ----
  it("staff lists: the request list's choices and warnings, and the audit log's filters and empty states", async () => {
    const { t, base } = portal;
    const from = tally.problems.length;
    const [rita] = desk.reviewers;
    // A key that expires within 60 days, so the list shows a warning tag.
    const soon = await makeTestKey([{ name: "Dev", email: "soon@example.org" }], { expiresInSeconds: Math.round((t.clock.now.getTime() - Date.UTC(2026, 0, 1)) / 1000) + 30 * 86_400 });
    const expiring = await submitRequest(t, "soon@example.org", "Dev", soon);
    await as(rita, async (page) => {
      await auditUrl(page, base, "/admin/requests?state=", "reviewer requests, all, with warnings", tally);
      await auditUrl(page, base, "/admin/requests?state=mine&q=nobody%40example.org", "reviewer requests, nothing matches", tally);
      await auditUrl(page, base, "/admin/requests?state=in_review", "reviewer requests, one state", tally);
    });
    await as(desk.officer, async (page) => auditUrl(page, base, "/admin/requests", "officer requests (all)", tally));
    await as(desk.admin, async (page) => {
      await auditUrl(page, base, `/admin/audit?action=request.&requestId=${expiring.id}`, "admin audit, one request", tally);
      await auditUrl(page, base, "/admin/audit?actor=system", "admin audit, by the system", tally);
      await auditUrl(page, base, "/admin/audit?action=staff.disabled&from=2020-01-01&to=2020-01-31", "admin audit, nothing matches", tally);
      await auditUrl(page, base, "/admin/audit?from=2026-11-24&to=2026-11-01", "admin audit, dates refused", tally, 400);
    });
    report(from);
  });
  // ---- end of staff lists ----
  // ---- Renewal and replacement (issue 13) ----
  it("renewal and replacement: the renew page (current and outdated agreement, refused), a renewal for both sides, the replace form, the replacement's choice, the settings' renewal errors", async () => {
    const { base, t } = portal;
    const from = tally.problems.length;
    const [rita] = desk.reviewers;
    const renewing = await submitRequest(t, "renewing@example.org", "Dev");
    await certifyRequest(t, renewing.id, { master: desk.master });
    const replacing = await submitRequest(t, "replacing@example.org", "Dev");
    await certifyRequest(t, replacing.id, { master: desk.master });
    const outdated = await submitRequest(t, "outdated@example.org", "Dev");
    await certifyRequest(t, outdated.id, { master: desk.master });
    await as(renewing.applicant, async (page) => {
      await auditUrl(page, base, `/requests/${renewing.id}/renew`, "applicant renew confirmation", tally);
    });
    const renewed = await renewing.applicant.postMultipart(`/requests/${renewing.id}/renew`, [{ name: "confirm", value: "yes" }], `/requests/${renewing.id}/renew`);
    const renewalId = String(renewed.headers.location).split("/").pop() ?? "";
    const replaceForm = await replacing.applicant.get(`/requests/${replacing.id}/replace`);
    const newKey = await makeTestKey([{ name: "Dev", email: "replacing@example.org" }]);
    const replaced = await replacing.applicant.postMultipart("/requests", await submissionParts(newKey, "Dev <replacing@example.org>"), `/requests/${replacing.id}/replace`);
    const replacementId = String(replaced.headers.location).split("/").pop() ?? "";
    await certifyRequest(t, replacementId, { master: desk.master });
    await t.app.db.setting.upsert({ where: { key: "agreementVersion" }, create: { key: "agreementVersion", value: "2" }, update: { value: "2" } });
    const refusedRenewal = await outdated.applicant.postMultipart(`/requests/${outdated.id}/renew`, [{ name: "confirm", value: "yes" }], `/requests/${outdated.id}/renew`);
    const badSettings = await desk.admin.postForm("/admin/settings/renewal", { renewalApprovalsRequired: "9", agreementVersion: "1" }, "/admin/settings");
    await as(renewing.applicant, async (page) => {
      await auditUrl(page, base, `/requests/${renewing.id}`, "applicant request being renewed", tally);
      await auditUrl(page, base, `/requests/${renewalId}`, "applicant renewal request", tally);
    });
    await as(outdated.applicant, async (page) => {
      await auditUrl(page, base, `/requests/${outdated.id}/renew`, "applicant renew with outdated agreement", tally);
      await auditHtml(page, base, refusedRenewal.body, "applicant renewal refused", tally);
    });
    await as(replacing.applicant, async (page) => {
      await auditHtml(page, base, replaceForm.body, "applicant replace key step", tally);
      await auditUrl(page, base, `/requests/${replacementId}`, "applicant replacement certified, choice", tally);
      await auditUrl(page, base, `/requests/${replacing.id}`, "applicant request being replaced", tally);
    });
    await as(rita, async (page) => {
      await auditUrl(page, base, `/admin/requests/${renewalId}`, "reviewer renewal with key history", tally);
      await auditUrl(page, base, `/admin/requests/${replacementId}`, "reviewer replacement with both keys", tally);
    });
    await as(desk.admin, async (page) => {
      await auditHtml(page, base, badSettings.body, "admin renewal settings refused", tally);
    });
    report(from);
  });
  // ---- end of renewal and replacement ----
  // ---- Master key rotation (docs/master-rotation.md): both masters in Settings, the re-certify block, a re-certification batch ----
  it("a master rotation: settings with two masters and their errors, the re-certify button and its batch", async () => {
    const { base } = portal;
    const from = tally.problems.length;
    const ada = desk.admin;
    const current = await portal.t.app.db.setting.findUniqueOrThrow({ where: { key: "masterPublicKey" } });
    const again = await ada.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: current.value }], "/admin/settings");
    const next = await makeMaster();
    const registered = await ada.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: next.toPublic().armor() }], "/admin/settings");
    assert.equal(registered.statusCode, 303);
    const unconfirmed = await ada.postForm("/admin/settings/retire-master", {}, "/admin/settings");
    const recertify = await desk.officer.postForm("/admin/signing/recertify", {}, "/admin/signing");
    await as(ada, async (page) => {
      await auditHtml(page, base, again.body, "admin settings, new master refused", tally);
      await auditUrl(page, base, "/admin/settings?saved=new-master", "admin settings, new master registered", tally);
      await auditHtml(page, base, unconfirmed.body, "admin settings, retirement not confirmed", tally);
    });
    // A revocation only the new master can sign: its certification of the key has no sealed revocation.
    const db = portal.t.app.db;
    const [certification] = await db.certification.findMany({ where: { requestId: states.certified }, take: 1 });
    const rita = await db.staff.findUniqueOrThrow({ where: { email: "rita@keysign.example" } });
    await db.certification.create({ data: { ...certification!, id: randomUUID(), batchNumber: 999, masterFingerprint: next.getFingerprint().toUpperCase(), sealedRevocation: null } });
    await db.revocation.create({ data: { id: randomUUID(), requestId: states.certified, reasonCode: "key_compromised", reasonText: "", state: "queued", proposedById: rita.id, createdAt: portal.t.clock.now } });
    await as(desk.officer, async (page) => {
      await auditUrl(page, base, String(recertify.headers.location ?? "/admin/signing"), "officer re-certification batch", tally);
      await auditUrl(page, base, "/admin/signing", "officer signing queue, re-certify with the new master and revocations for it", tally);
    });
    report(from);
  });
  // ---- end of master key rotation ----

  it("adds up to no axe violation and no sideways scrolling", (context) => {
    context.diagnostic(`${tally.pages} pages and emails, ${tally.axe} axe violations, ${tally.overflow} overflowing`);
    assert.equal(tally.axe, 0);
    assert.equal(tally.overflow, 0);
  });
});

