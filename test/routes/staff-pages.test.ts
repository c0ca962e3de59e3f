// Issue 12, staff pages: destructive or final actions ask for confirmation, the header shows
// each role every area it may use and nothing else, and invitations describe each role.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StaffRole } from "../../src/core/roles.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { queuedRequest, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

/** Every staff area the header can link to. */
const AREAS = ["/admin", "/admin/requests", "/admin/signing", "/admin/staff", "/admin/publication", "/admin/audit", "/admin/settings"];

/** The links of the header's main navigation. */
function navLinks(html: string): string[] {
  const nav = /<nav aria-label="Main">([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? "";
  return [...nav.matchAll(/<a href="([^"]+)">/g)].map((m) => m[1] ?? "");
}

/** The POST form with this action, from its opening tag to its end. */
function formOf(html: string, action: string): string {
  const start = html.indexOf(`action="${action}"`);
  assert.ok(start >= 0, `no form posts to ${action}`);
  return html.slice(start, html.indexOf("</form>", start));
}

const REQUIRED_TICK = /<input type="checkbox" id="[a-z-]+" name="confirm" value="yes" required>/;

describe("staff pages", () => {
  let t: TestApp;
  let desk: SigningDesk;

  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
  });
  after(async () => {
    await t.close();
  });

  describe("navigation", () => {
    const cases: [string, StaffRole[]][] = [
      ["reviewer", ["reviewer"]],
      ["signing officer", ["signing_officer"]],
      ["admin", ["admin"]],
      ["reviewer and signing officer", ["reviewer", "signing_officer"]],
    ];
    for (const [name, roles] of cases) {
      it(`shows a ${name} every area they may open and no other`, async () => {
        const email = `${roles.join("-").replace(/_/g, "-")}@keysign.example`;
        await createStaff(t, { email, roles });
        const browser = await signInStaff(t, email);
        const shown = navLinks((await browser.get("/admin")).body);
        const allowed: string[] = [];
        for (const area of AREAS) {
          const response = await browser.get(area);
          assert.ok([200, 403].includes(response.statusCode), `${area}: ${response.statusCode}`);
          if (response.statusCode === 200) allowed.push(area);
          // Every page the person reaches carries the same header.
          if (response.statusCode === 200) assert.deepEqual(navLinks(response.body), shown, area);
        }
        assert.deepEqual(shown, allowed);
      });
    }

    it("names Settings and Audit for admins and Signing for officers", async () => {
      const admin = navLinks((await desk.admin.get("/admin")).body);
      assert.ok(admin.includes("/admin/settings") && admin.includes("/admin/audit"));
      assert.ok(!admin.includes("/admin/signing"));
      const officer = navLinks((await desk.officer.get("/admin")).body);
      assert.ok(officer.includes("/admin/signing"));
      assert.ok(!officer.includes("/admin/settings") && !officer.includes("/admin/audit"));
    });

    it("shows applicants and visitors no staff area", async () => {
      const applicant: Browser = await signInAs(t, "nav-applicant@example.org");
      assert.deepEqual(navLinks((await applicant.get("/requests")).body), ["/requests", "/account"]);
      const visitor = await t.app.inject({ method: "GET", url: "/" });
      assert.ok(navLinks(visitor.body).every((href) => !href.startsWith("/admin")));
    });
  });

  describe("confirmations", () => {
    it("withdrawing a request needs a tick and says it cannot be undone", async () => {
      const { id, applicant } = await submitRequest(t, "withdraw@example.org");
      const form = formOf((await applicant.get(`/requests/${id}`)).body, `/requests/${id}/withdraw`);
      assert.match(form, REQUIRED_TICK);
      assert.match(form, /ends this request for good/);
      assert.match(form, /withdrawing cannot be undone/);
    });

    it("rejecting needs a tick and says what follows", async () => {
      const { id } = await submitRequest(t, "reject@example.org");
      const form = formOf((await desk.reviewers[0].get(`/admin/requests/${id}`)).body, `/admin/requests/${id}/reject`);
      assert.match(form, REQUIRED_TICK);
      assert.match(form, /the applicant is emailed the reason and has to start a new request/);
      // Asking for changes is not final and asks nothing more.
      assert.doesNotMatch(formOf((await desk.reviewers[0].get(`/admin/requests/${id}`)).body, `/admin/requests/${id}/request-changes`), REQUIRED_TICK);
    });

    it("disabling an account and resetting a second factor need a tick naming the person", async () => {
      const member = await t.app.db.staff.findFirstOrThrow({ where: { email: "rita@keysign.example" } });
      const page = (await desk.admin.get(`/admin/staff/${member.id}`)).body;
      for (const action of ["disable", "reset-second-factor"]) {
        const form = formOf(page, `/admin/staff/${member.id}/${action}`);
        assert.match(form, REQUIRED_TICK, action);
        assert.match(form, /rita@keysign\.example/, action);
      }
    });

    it("exporting a batch needs a tick that counts the items", async () => {
      await queuedRequest(desk, "export@example.org");
      const form = formOf((await desk.officer.get("/admin/signing")).body, "/admin/signing/batches");
      assert.match(form, REQUIRED_TICK);
      assert.match(form, /everything waiting \(\d+\) goes into the next batch/);
    });

    it("replacing the master key needs a tick naming the key replaced; a first upload does not", async () => {
      const form = formOf((await desk.admin.get("/admin/settings")).body, "/admin/settings/master-key");
      assert.match(form, REQUIRED_TICK);
      assert.match(form, /this replaces the master key ([0-9A-F]{4} ){9}[0-9A-F]{4}/);
      assert.match(form, /Replace the master public key<\/button>/);

      const fresh = await createTestApp();
      try {
        await createStaff(fresh, { email: "first@keysign.example", roles: ["admin"] });
        const admin = await signInStaff(fresh, "first@keysign.example");
        const first = formOf((await admin.get("/admin/settings")).body, "/admin/settings/master-key");
        assert.doesNotMatch(first, REQUIRED_TICK);
        assert.match(first, /Upload master public key<\/button>/);
      } finally {
        await fresh.close();
      }
    });
  });

  describe("invitations", () => {
    it("ticks no role and describes each", async () => {
      const form = formOf((await desk.admin.get("/admin/staff")).body, "/admin/staff/invite");
      const boxes = [...form.matchAll(/<input type="checkbox"[^>]*name="roles"[^>]*>/g)].map((m) => m[0]);
      assert.equal(boxes.length, 3);
      for (const box of boxes) assert.doesNotMatch(box, /checked/);
      for (const value of ["reviewer", "signing_officer", "admin"]) {
        assert.match(form, new RegExp(`aria-describedby="role-${value}-hint"`));
        assert.match(form, new RegExp(`<p class="muted role-hint" id="role-${value}-hint">[A-Z][^<]{20,}</p>`));
      }
    });

    it("names the address in the confirmation", async () => {
      const sent = await desk.admin.postForm("/admin/staff/invite", { email: "Invitee@Example.org", roles: ["reviewer"] }, "/admin/staff");
      assert.equal(sent.statusCode, 303);
      const page = await desk.admin.get(String(sent.headers.location));
      assert.match(page.body, /Invitation sent to invitee@example\.org\./);
      // An id that names no pending invitation falls back to the plain notice.
      const unknown = await desk.admin.get("/admin/staff?done=invited&invite=nothing");
      assert.match(unknown.body, /Invitation sent\./);
      assert.doesNotMatch(unknown.body, /Invitation sent to/);
    });
  });
});
