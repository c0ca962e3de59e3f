import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { appendAuditEvent } from "../../src/repositories/audit.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { createStaff, signInStaff } from "../helpers/staff.ts";

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)?.[1] ?? "";
}

/** The rows of the audit table, each as its HTML. */
function rowsOf(html: string): string[] {
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  return body.split("<tr>").slice(1);
}

function rowWith(html: string, action: string): string {
  const row = rowsOf(html).find((r) => r.includes(`<code>${action}</code>`));
  assert.ok(row, `a row for ${action}`);
  return row;
}

describe("the audit log as a story", () => {
  let t: TestApp;
  let root: Browser;
  let bob: Browser;
  let requestId: string;

  before(async () => {
    t = await createTestApp();
    await createStaff(t, { email: "root@keysign.example", roles: ["admin", "reviewer"] });
    await createStaff(t, { email: "bob@keysign.example", roles: ["reviewer"] });
    root = await signInStaff(t, "root@keysign.example");
    bob = await signInStaff(t, "bob@keysign.example");
    requestId = (await submitRequest(t, "dev@example.org")).id;
    for (const staff of [root, bob]) {
      const page = `/admin/requests/${requestId}`;
      const approved = await staff.postForm(`${page}/approve`, { version: versionOf((await staff.get(page)).body) }, page);
      assert.equal(approved.statusCode, 303);
    }
  });
  after(async () => t.close());

  it("names staff and applicants by email and the scheduler as system, and says what they did", async () => {
    const page = (await root.get("/admin/audit")).body;
    const approval = rowWith(page, "request.approval");
    assert.match(approval, /root@keysign\.example<\/a>/);
    assert.match(approval, /<p class="story"><a class="actor" href="\/admin\/audit\?actor&#x3D;root%40keysign.example">root@keysign\.example<\/a> approved the request \(1 of 2 approvals\)<\/p>/);
    assert.match(rowWith(page, "request.approve"), /bob@keysign\.example<\/a>/);
    assert.match(rowWith(page, "request.submit"), /dev@example\.org<\/a> submitted the request<\/p>/);
    assert.match(rowWith(page, "request.enqueue"), /href="\/admin\/audit\?actor&#x3D;system">system<\/a>/);
  });

  it("shows details as a short list of facts, never JSON, and links to the request", async () => {
    const page = (await root.get("/admin/audit")).body;
    const approval = rowWith(page, "request.approval");
    assert.match(approval, /<div><dt>Revision<\/dt> <dd>1<\/dd><\/div><div><dt>Approvals<\/dt> <dd>1<\/dd><\/div><div><dt>Approvals needed<\/dt> <dd>2<\/dd><\/div>/);
    assert.match(approval, new RegExp(`<a href="/admin/requests/${requestId}">Request by <span class="address">dev@example.org</span></a>`));
    assert.match(rowWith(page, "request.start_review"), /<dt>State<\/dt> <dd>Submitted → In review<\/dd>/);
    const submitted = rowWith(page, "request.submit");
    assert.match(submitted, /<dt>Key<\/dt> <dd>[0-9A-F]{4}( [0-9A-F]{4}){9}<\/dd>/);
    assert.doesNotMatch(page, /\{&quot;|&quot;:/, "no JSON on the page");
  });

  it("filters by who, by kind of event, by request and by dates, with choices", async () => {
    const byBob = rowsOf((await root.get("/admin/audit?actor=bob%40keysign.example")).body);
    assert.ok(byBob.length > 0 && byBob.every((r) => r.includes("bob@keysign.example</a>")));
    const byApplicants = rowsOf((await root.get("/admin/audit?actor=applicants")).body);
    assert.ok(byApplicants.length > 0 && byApplicants.every((r) => r.includes("dev@example.org</a>")));
    const bySystem = rowsOf((await root.get("/admin/audit?actor=system")).body);
    assert.deepEqual(bySystem.map((r) => /<code>([a-z_.]+)<\/code>/.exec(r)?.[1]), ["request.enqueue"]);
    const requestEvents = rowsOf((await root.get("/admin/audit?action=request.")).body);
    assert.ok(requestEvents.length >= 5 && requestEvents.every((r) => /<code>request\./.test(r)));
    const exact = rowsOf((await root.get("/admin/audit?action=request.approve")).body);
    assert.equal(exact.length, 1, "a code matches itself, not request.approval");
    const page = (await root.get(`/admin/audit?requestId=${requestId}&actor=root%40keysign.example`)).body;
    assert.match(page, /Only events about the request by dev@example\.org/);
    assert.match(page, /<option value="root@keysign\.example" selected>/);
    assert.ok(rowsOf(page).every((r) => r.includes("root@keysign.example</a>") && r.includes(requestId)));
    assert.match((await root.get("/admin/audit")).body, /<optgroup label="Requests">[\s\S]*<option value="request\.certify">Certified the request&#x27;s user IDs<\/option>/);
    assert.equal(rowsOf((await root.get("/admin/audit?from=2026-11-25")).body).length, 0);
    assert.ok(rowsOf((await root.get("/admin/audit?from=2026-11-24&to=2026-11-24")).body).length > 0);
  });

  it("explains why nothing matches", async () => {
    const page = (await root.get("/admin/audit?action=staff.disabled&actor=bob%40keysign.example&from=2026-01-01&to=2026-01-31")).body;
    assert.equal(rowsOf(page).length, 0);
    assert.match(page, /No event of the kind “Disabled a staff account” by bob@keysign\.example between 2026-01-01 and 2026-01-31 is recorded\. Choose a wider date range, “Anything” or “Anyone”, or clear the filters\./);
    assert.match(page, /<a href="\/admin\/audit">Clear the filters<\/a>/);
  });

  it("refuses a date range that ends before it starts, by the field", async () => {
    const response = await root.get("/admin/audit?from=2026-11-24&to=2026-11-01");
    assert.equal(response.statusCode, 400);
    assert.match(response.body, /<a href="#to-error">The end date \(2026-11-01\) is before the start date \(2026-11-24\)\. Choose an end date on or after the start date\.<\/a>/);
    assert.match(response.body, /<input id="to" name="to" type="date" value="2026-11-01" aria-invalid="true" aria-describedby="to-error">/);
    assert.equal(rowsOf(response.body).length, 0);
  });

  it("is for admins only", async () => {
    const response = await bob.get("/admin/audit");
    assert.notEqual(response.statusCode, 200);
  });
});

describe("audit log pages", () => {
  it("shows 50 events a page, newest first, keeping the filters in the page links", async () => {
    const t = await createTestApp();
    try {
      await createStaff(t, { email: "root@keysign.example", roles: ["admin"] });
      const root = await signInStaff(t, "root@keysign.example");
      const staff = await t.app.db.staff.findUniqueOrThrow({ where: { email: "root@keysign.example" } });
      for (let i = 0; i < 55; i++) {
        await t.app.db.$transaction((tx) => appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: null, action: "staff.signed_in", data: { method: `test ${i}` } }, t.clock.now));
      }
      const first = (await root.get("/admin/audit?action=staff.signed_in")).body;
      assert.equal(rowsOf(first).length, 50);
      assert.match(first, /Page 1 of 2/);
      assert.match(rowsOf(first)[0] ?? "", /<dd>test 54<\/dd>/, "newest first");
      assert.match(first, /href="\/admin\/audit\?action&#x3D;staff.signed_in&amp;page&#x3D;2"/);
      const second = (await root.get("/admin/audit?action=staff.signed_in&page=2")).body;
      assert.equal(rowsOf(second).length, 6, "the five left, and the sign-in of the admin reading the log");
    } finally {
      await t.close();
    }
  });
});
