import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { StaffRole } from "../../src/core/roles.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { Browser, multipartBody } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

/** A well-formed id nothing has. */
const NO_ID = "00000000-0000-4000-8000-000000000000";

type Principal = "anonymous" | "applicant" | "reviewer" | "signing_officer" | "admin" | "disabled staff";
const PRINCIPALS: Principal[] = ["anonymous", "applicant", "reviewer", "signing_officer", "admin", "disabled staff"];

interface Route {
  method: "GET" | "POST";
  path: string;
  /** Who may use it: any staff member, or the roles named. */
  allowed: "any staff" | StaffRole[];
  form?: Record<string, string>;
  multipart?: boolean;
}

/**
 * The authorisation matrix: every admin route against every kind of visitor. A refused
 * visitor who is not signed-in staff is sent to the staff sign-in page; staff without the
 * role get 403; an allowed visitor gets past authorisation (whatever the handler answers).
 */
describe("admin authorisation matrix", () => {
  let t: TestApp;
  const browsers = new Map<Principal, Browser>();
  const pages = new Map<Principal, string>();
  let routes: Route[] = [];

  before(async () => {
    t = await createTestApp();
    const { id } = await submitRequest(t, "matrix@example.org");
    const agreement = await t.app.db.agreement.findFirstOrThrow({ where: { requestId: id } });
    const target = await createStaff(t, { email: "target@keysign.example", roles: ["reviewer"] });
    const staff: Array<[Principal, StaffRole[]]> = [["reviewer", ["reviewer"]], ["signing_officer", ["signing_officer"]], ["admin", ["admin"]], ["disabled staff", ["admin", "reviewer", "signing_officer"]]];
    for (const [principal, roles] of staff) {
      await createStaff(t, { email: `${principal.replace(" ", "-")}@keysign.example`, roles });
      browsers.set(principal, await signInStaff(t, `${principal.replace(" ", "-")}@keysign.example`));
      pages.set(principal, "/admin");
    }
    await t.app.db.staff.update({ where: { email: "disabled-staff@keysign.example" }, data: { disabledAt: t.clock.now } });
    pages.set("disabled staff", "/admin/login");
    browsers.set("anonymous", new Browser(t.app));
    pages.set("anonymous", "/admin/login");
    browsers.set("applicant", await signInAs(t, "matrix-applicant@example.org"));
    pages.set("applicant", "/requests");
    routes = [
      { method: "GET", path: "/admin", allowed: "any staff" },
      { method: "GET", path: "/admin/requests", allowed: "any staff" },
      { method: "GET", path: `/admin/requests/${id}`, allowed: "any staff" },
      { method: "GET", path: `/admin/requests/${id}/agreements/${agreement.id}`, allowed: "any staff" },
      { method: "POST", path: `/admin/requests/${id}/notes`, allowed: "any staff", form: { body: "note" } },
      { method: "POST", path: `/admin/requests/${id}/approve`, allowed: ["reviewer"], form: { version: "999" } },
      { method: "POST", path: `/admin/requests/${id}/reject`, allowed: ["reviewer"], form: { version: "999", reason: "x" } },
      { method: "POST", path: `/admin/requests/${id}/request-changes`, allowed: ["reviewer"], form: { version: "999", reason: "x" } },
      { method: "GET", path: `/admin/requests/${id}/certified-key`, allowed: "any staff" },
      { method: "POST", path: `/admin/requests/${id}/revocations`, allowed: ["reviewer"], form: { version: "999", reasonCode: "key_compromised", reasonText: "" } },
      { method: "POST", path: `/admin/requests/${id}/revocations/${NO_ID}/approve`, allowed: ["reviewer"], form: { version: "999" } },
      { method: "POST", path: `/admin/requests/${id}/revocations/${NO_ID}/withdraw`, allowed: ["reviewer"], form: { version: "999" } },
      { method: "GET", path: "/admin/audit", allowed: ["admin"] },
      { method: "GET", path: "/admin/audit.csv", allowed: ["admin"] },
      { method: "GET", path: "/admin/settings", allowed: ["admin"] },
      { method: "POST", path: "/admin/settings", allowed: ["admin"], form: { approvalsRequired: "2", certificationValidityDays: "730", policyUrl: "" } },
      { method: "POST", path: "/admin/settings/master-key", allowed: ["admin"], multipart: true },
      { method: "GET", path: "/admin/signing", allowed: ["signing_officer"] },
      { method: "GET", path: "/admin/signing/queue-key.asc", allowed: ["signing_officer", "admin"] },
      { method: "POST", path: "/admin/signing/batches", allowed: ["signing_officer"], form: {} },
      { method: "GET", path: "/admin/signing/batches/1", allowed: ["signing_officer"] },
      { method: "GET", path: "/admin/signing/batches/1/file", allowed: ["signing_officer"] },
      { method: "POST", path: "/admin/signing/batches/1/cancel", allowed: ["signing_officer"], form: {} },
      { method: "GET", path: "/admin/signing/import", allowed: ["signing_officer"] },
      { method: "POST", path: "/admin/signing/import", allowed: ["signing_officer"], multipart: true },
      { method: "GET", path: "/admin/staff", allowed: ["admin"] },
      { method: "GET", path: `/admin/staff/${target.id}`, allowed: ["admin"] },
      { method: "POST", path: "/admin/staff/invite", allowed: ["admin"], form: { email: "new@keysign.example", roles: "reviewer" } },
      { method: "POST", path: `/admin/staff/${target.id}/roles`, allowed: ["admin"], form: { roles: "reviewer" } },
      { method: "POST", path: `/admin/staff/${target.id}/disable`, allowed: ["admin"], form: {} },
      { method: "POST", path: `/admin/staff/${target.id}/enable`, allowed: ["admin"], form: {} },
      { method: "POST", path: `/admin/staff/${target.id}/reset-second-factor`, allowed: ["admin"], form: {} },
      { method: "GET", path: "/admin/publication", allowed: ["admin"] },
      { method: "POST", path: `/admin/publication/pushes/${NO_ID}/retry`, allowed: ["admin"], form: {} },
      { method: "POST", path: "/admin/setup-checklist", allowed: ["admin"], form: { show: "yes" } },
      // Renewal (issue 13).
      { method: "POST", path: "/admin/settings/renewal", allowed: ["admin"], form: { renewalApprovalsRequired: "1", agreementVersion: "1" } },
      // Master key rotation (docs/master-rotation.md).
      { method: "POST", path: "/admin/settings/new-master", allowed: ["admin"], multipart: true },
      { method: "POST", path: "/admin/settings/retire-master", allowed: ["admin"], form: {} },
      { method: "POST", path: "/admin/signing/recertify", allowed: ["signing_officer"], form: {} },
      { method: "POST", path: "/admin/signing/master-revocations", allowed: ["signing_officer"], form: { master: "0".repeat(40) } },
    ];
  });
  after(async () => t.close());

  function expected(route: Route, principal: Principal): "allowed" | "sign in" | "forbidden" {
    if (principal === "anonymous" || principal === "applicant" || principal === "disabled staff") return "sign in";
    if (route.allowed === "any staff" || route.allowed.includes(principal)) return "allowed";
    return "forbidden";
  }

  async function send(route: Route, principal: Principal) {
    const browser = browsers.get(principal)!;
    const page = pages.get(principal)!;
    if (route.method === "GET") return browser.get(route.path);
    if (route.multipart) return browser.postMultipart(route.path, [{ name: "masterKeyText", value: "not a key" }], page);
    return browser.postForm(route.path, route.form ?? {}, page);
  }

  it("answers every cell as the matrix says", async () => {
    const wrong: string[] = [];
    for (const route of routes) {
      for (const principal of PRINCIPALS) {
        const response = await send(route, principal);
        const location = String(response.headers.location ?? "");
        const actual = response.statusCode === 303 && location === "/admin/login" ? "sign in" : response.statusCode === 403 ? "forbidden" : "allowed";
        const want = expected(route, principal);
        if (actual !== want) wrong.push(`${route.method} ${route.path} as ${principal}: expected ${want}, got ${response.statusCode} ${location}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it("covers every admin route the app has", () => {
    const guarded = new Set(routes.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/g, ":id").replace(/\/batches\/1(?=\/|$)/, "/batches/:number")}`));
    guarded.add("POST /admin/staff/invites/:id/revoke");
    const publicOnes = new Set(["/admin/login", "/admin/login/totp", "/admin/enrol", "/admin/setup", "/admin/invite", "/admin/logout"]);
    const normalise = (url: string) => url.replace(/:agreementId|:revocationId/, ":id").replace(/\/$/, "");
    const missing = t.app.routeTable
      .filter((r) => r.url.startsWith("/admin") && !publicOnes.has(r.url))
      .map((r) => `${r.method} ${normalise(r.url)}`)
      .filter((r) => !guarded.has(r));
    assert.ok(t.app.routeTable.length > 20);
    assert.deepEqual(missing, []);
  });
});

describe("CSRF on every form", () => {
  it("refuses every POST route of the portal without a token, even for a signed-in admin", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: "csrf-admin@keysign.example", roles: ["admin", "reviewer", "signing_officer"] });
      const admin = await signInStaff(t, "csrf-admin@keysign.example");
      const uuid = "00000000-0000-4000-8000-000000000000";
      // POST /pks/add is a machine API for `gpg --send-keys`: no session and no token by design
      // (src/routes/body-rules.ts, machineFormBody); key-updates.test.ts covers what it takes.
      // POST /check-module/json likewise, for scripts (machineMultipartBody); check-module.test.ts covers it.
      const posts = t.app.routeTable.filter((r) => r.method === "POST" && r.url !== "/pks/add" && r.url !== "/check-module/json");
      assert.ok(posts.length >= 20);
      const accepted: string[] = [];
      const cookie = `ks_session=${admin.cookie("ks_session")}; ks_csrf=${admin.cookie("ks_csrf")}`;
      const events = await t.app.db.auditEvent.count();
      const fields = { version: "1", reason: "x", email: "a@b.org", address: "a@b.org", token: "x" };
      for (const route of posts) {
        const url = route.url.replace(/:[A-Za-z]+/g, uuid);
        // Each route in the one body kind it takes (every other kind is a 415 before the token is looked at).
        const asForm = await t.app.inject({ method: "POST", url, headers: { "content-type": "application/x-www-form-urlencoded", cookie }, payload: new URLSearchParams(fields).toString() });
        const multipart = multipartBody(Object.entries(fields).map(([name, value]) => ({ name, value })));
        const response = asForm.statusCode === 415 ? await t.app.inject({ method: "POST", url, headers: { "content-type": multipart.contentType, cookie }, payload: multipart.body }) : asForm;
        // Who asks is checked from the headers before the body is read: a route this account may
        // not use sends it to its own start page, with the token never looked at.
        const sentAway = response.statusCode === 303 && ["/sign-in", "/admin", "/admin/login"].includes(response.headers.location ?? "");
        const expired = response.statusCode === 403 && /This form has expired/.test(response.body);
        if (!expired && !sentAway) accepted.push(`${url}: ${response.statusCode}`);
      }
      assert.deepEqual(accepted, []);
      assert.equal(await t.app.db.auditEvent.count(), events, "nothing was done");
    } finally {
      await t.close();
    }
  });
});
