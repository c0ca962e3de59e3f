/**
 * Every POST form on every page carries a CSRF token the server accepts, whatever template
 * context the form is rendered in (page root, `{{#with}}`, `{{#each}}`, the layout). Pages are
 * rendered for each kind of visitor in the states that show their forms; each token is posted
 * with that visitor's cookies to a probe route guarded by the app's own CSRF check, so no
 * form's side effects are needed to prove the token works.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { SESSION_COOKIE } from "../../src/plugins/app/session.ts";
import { issueSetupLink } from "../../src/services/staff-accounts.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { multipartBody } from "../../src/routes/body-rules.ts";
import { Browser, multipartBody as multipartForm } from "../helpers/http.ts";
import { makeTestKey } from "../helpers/keys.ts";
import { submissionParts, submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";
import { laterBy, makeMaster, queuedRequest, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";
import { createStaff } from "../helpers/staff.ts";

const PROBE = "/test/csrf-probe";
const MULTIPART_PROBE = "/test/csrf-probe-multipart";
const CSRF_COOKIE = "ks_csrf";
const PASSPHRASE = "a long enough passphrase 42";

/**
 * Routes that do nothing but pass the app's real CSRF check, one per body kind (every POST
 * route takes exactly one): urlencoded, and multipart read token first.
 */
function addProbe(app: FastifyInstance): void {
  app.post(PROBE, { preValidation: app.csrfProtection }, async () => ({ accepted: true }));
  app.post(MULTIPART_PROBE, { config: multipartBody({ maxBytes: 64 * 1024, files: {}, maxFieldBytes: 1024, maxFields: 5 }) }, async () => ({ accepted: true }));
}

interface PostForm {
  action: string;
  multipart: boolean;
  /** The values of its `_csrf` inputs. */
  tokens: string[];
}

function attributes(tag: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const [, name, value] of tag.matchAll(/([A-Za-z_:-]+)\s*=\s*"([^"]*)"/g)) found.set((name ?? "").toLowerCase(), value ?? "");
  return found;
}

/** Every `<form method="post">` of a page, with its action and CSRF inputs; a button's `formaction` posts the same form elsewhere. */
function postForms(html: string): { forms: PostForm[]; openings: number; parsed: number } {
  const forms: PostForm[] = [];
  let parsed = 0;
  for (const [, tag, body] of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    parsed += 1;
    const form = attributes(tag ?? "");
    if ((form.get("method") ?? "get").toLowerCase() !== "post") continue;
    const inputs = [...(body ?? "").matchAll(/<input\b[^>]*>/gi)].map(([input]) => attributes(input));
    const formActions = [...(body ?? "").matchAll(/<button\b[^>]*>/gi)].flatMap(([button]) => attributes(button).get("formaction") ?? []);
    for (const action of [form.get("action") ?? "", ...new Set(formActions)]) {
      forms.push({
        action: action.replaceAll("&amp;", "&"),
        multipart: form.get("enctype") === "multipart/form-data",
        tokens: inputs.filter((input) => input.get("name") === "_csrf" && input.get("type") === "hidden").map((input) => input.get("value") ?? ""),
      });
    }
  }
  return { forms, openings: html.match(/<form\b/gi)?.length ?? 0, parsed };
}

/** Posts `token` to the probe the way the form would, with the visitor's cookies (none for `null`). */
async function probe(app: FastifyInstance, browser: Browser | null, token: string | undefined, multipart = false): Promise<LightMyRequestResponse> {
  const cookie = [SESSION_COOKIE, CSRF_COOKIE]
    .flatMap((name) => {
      const value = browser?.cookie(name);
      return value === undefined ? [] : [`${name}=${value}`];
    })
    .join("; ");
  const fields = [...(token === undefined ? [] : [{ name: "_csrf", value: token }]), { name: "probe", value: "1" }];
  const headers: Record<string, string> = cookie ? { cookie } : {};
  if (multipart) {
    const { body, contentType } = multipartForm(fields);
    return app.inject({ method: "POST", url: MULTIPART_PROBE, headers: { ...headers, "content-type": contentType }, payload: body });
  }
  const payload = new URLSearchParams(fields.map((field): [string, string] => [field.name, field.value])).toString();
  return app.inject({ method: "POST", url: PROBE, headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, payload });
}

/** The plain token the outbox mail to `recipient` carries in its link to `path`. */
async function mailedToken(t: TestApp, recipient: string, path: string): Promise<string> {
  const mail = await t.app.db.outboxEmail.findFirstOrThrow({ where: { recipient }, orderBy: { createdAt: "desc" } });
  const token = new RegExp(`${path.replace(/[?/]/g, "\\$&")}\\?token=([A-Za-z0-9_-]+)`).exec(mail.text)?.[1];
  if (!token) throw new Error(`no ${path} link in the mail to ${recipient}`);
  return token;
}

describe("CSRF tokens in every rendered form", () => {
  let t: TestApp;
  let desk: SigningDesk;
  /** Every form checked, with its page, for the coverage check at the end. */
  const checked: Array<{ page: string; action: string }> = [];

  before(async () => {
    // A public address, as a deployment has: batches are not exported from a portal on loopback.
    // A keyserver to push to (no worker runs here, so nothing is ever sent to it).
    t = await createTestApp({ PUBLIC_URL: "https://keysign.example.org", PUBLISH_KEYSERVERS: "hkps://keys.example.net" }, undefined, { beforeReady: addProbe });
    desk = await signingDesk(t);
    // A batch is exported only once the organisation's name and certification domain are set.
    for (const [key, value] of [["organisationName", "Example Org"], ["certificationDomain", "keys.example.org"]] as const) {
      await t.app.db.setting.upsert({ where: { key }, create: { key, value }, update: { value } });
    }
  });
  after(async () => t?.close());

  /**
   * Checks one rendered page: it shows a form for each of `actions` (so the state was really
   * reached), and each of its POST forms holds one non-empty token that the probe accepts
   * with the visitor's cookies. Returns what is wrong, as sentences.
   */
  async function inspect(page: string, browser: Browser, response: LightMyRequestResponse, actions: string[], status = 200): Promise<string[]> {
    if (response.statusCode !== status) return [`${page}: answered ${response.statusCode}, expected ${status}`];
    const problems: string[] = [];
    const { forms, openings, parsed } = postForms(response.body);
    if (openings !== parsed) problems.push(`${page}: ${openings} <form> tags but ${parsed} closed forms`);
    if (forms.length === 0) problems.push(`${page}: holds no POST form`);
    for (const action of actions) {
      if (!forms.some((form) => form.action === action)) problems.push(`${page}: no form posts to ${action} (got ${forms.map((f) => f.action).join(", ")})`);
    }
    for (const form of forms) {
      checked.push({ page, action: form.action });
      const [token, ...extra] = form.tokens;
      if (!token || extra.length > 0) {
        problems.push(`${page}: the form posting to ${form.action} has _csrf ${JSON.stringify(form.tokens)}`);
        continue;
      }
      const answer = await probe(t.app, browser, token, form.multipart);
      if (answer.statusCode !== 200) problems.push(`${page}: the token of the form posting to ${form.action} is refused (${answer.statusCode})`);
    }
    return problems;
  }

  async function version(browser: Browser, url: string): Promise<string> {
    return /name="version" value="(\d+)"/.exec((await browser.get(url)).body)?.[1] ?? "";
  }

  it("has a probe that accepts a page's token and refuses an empty, altered, missing or foreign one", async () => {
    const visitor = new Browser(t.app);
    const [form] = postForms((await visitor.get("/sign-in")).body).forms;
    const token = form?.tokens[0] ?? "";
    assert.ok(token.length > 10, "the sign-in page holds a token");
    assert.equal((await probe(t.app, visitor, token)).statusCode, 200);
    assert.equal((await probe(t.app, visitor, token, true)).statusCode, 200);
    const altered = `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`;
    for (const [what, value] of [["empty", ""], ["altered", altered], ["missing", undefined]] as const) {
      const answer = await probe(t.app, visitor, value);
      assert.equal(answer.statusCode, 403, `${what} token`);
      assert.match(answer.body, /This form has expired/);
    }
    const other = new Browser(t.app);
    await other.get("/sign-in");
    assert.equal((await probe(t.app, other, token)).statusCode, 403, "another browser's cookie");
    assert.equal((await probe(t.app, null, token)).statusCode, 403, "no cookie");
  });

  it("anonymous visitors: sign-in, the emailed link, staff sign-in, setup and invitation links", async () => {
    const visitor = new Browser(t.app);
    const problems = [
      ...(await inspect("anonymous /sign-in", visitor, await visitor.get("/sign-in"), ["/sign-in"])),
      ...(await inspect("anonymous /sign-in refused", visitor, await visitor.postForm("/sign-in", { address: "not an address" }, "/sign-in"), ["/sign-in"], 400)),
    ];
    await visitor.postForm("/sign-in", { address: "visitor@example.org" }, "/sign-in");
    const signIn = await mailedToken(t, "visitor@example.org", "/sign-in/link");
    problems.push(...(await inspect("anonymous /sign-in/link", visitor, await visitor.get(`/sign-in/link?token=${signIn}`), ["/sign-in/link"])));
    problems.push(...(await inspect("anonymous /admin/login", visitor, await visitor.get("/admin/login"), ["/admin/login"])));
    const wrong = await visitor.postForm("/admin/login", { email: "rita@keysign.example", password: "not the password" }, "/admin/login");
    problems.push(...(await inspect("anonymous /admin/login refused", visitor, wrong, ["/admin/login"], 401)));
    const setup = new URL(
      (await issueSetupLink(t.app.db, { address: "", roles: ["reviewer"], publicUrl: t.config.PUBLIC_URL, ip: "127.0.0.1", replaceFirstStart: false }, t.clock.now)).url,
    );
    problems.push(...(await inspect("anonymous /admin/setup", visitor, await visitor.get(`${setup.pathname}${setup.search}`), ["/admin/setup"])));
    const invited = await desk.admin.postForm("/admin/staff/invite", { email: "invitee@keysign.example", roles: "reviewer" }, "/admin/staff");
    assert.equal(invited.statusCode, 303);
    const invite = await mailedToken(t, "invitee@keysign.example", "/admin/invite");
    problems.push(...(await inspect("anonymous /admin/invite", visitor, await visitor.get(`/admin/invite?token=${invite}`), ["/admin/invite"])));
    problems.push(...(await inspect("anonymous /check-module", visitor, await visitor.get("/check-module"), ["/check-module"])));
    const unreadable = await visitor.postMultipart("/check-module", [{ name: "moduleSig", filename: "module.sig", content: Buffer.from("not a module.sig") }], "/check-module");
    problems.push(...(await inspect("anonymous /check-module refused", visitor, unreadable, ["/check-module"], 422)));
    assert.deepEqual(problems, []);
  });

  it("staff half-way through signing in: the second factor and the authenticator enrolment", async () => {
    const { password } = await createStaff(t, { email: "pending@keysign.example", roles: ["reviewer"] });
    const pending = new Browser(t.app);
    const first = await pending.postForm("/admin/login", { email: "pending@keysign.example", password }, "/admin/login");
    assert.equal(first.headers.location, "/admin/login/totp");
    const problems = await inspect("pending staff /admin/login/totp", pending, await pending.get("/admin/login/totp"), ["/admin/login/totp", "/admin/logout"]);

    await desk.admin.postForm("/admin/staff/invite", { email: "newbie@keysign.example", roles: "reviewer" }, "/admin/staff");
    const token = await mailedToken(t, "newbie@keysign.example", "/admin/invite");
    const newbie = new Browser(t.app);
    const accepted = await newbie.postForm("/admin/invite", { token, email: "", password: PASSPHRASE, passwordAgain: PASSPHRASE }, `/admin/invite?token=${token}`);
    assert.equal(accepted.headers.location, "/admin/enrol");
    problems.push(...(await inspect("new staff /admin/enrol", newbie, await newbie.get("/admin/enrol"), ["/admin/enrol"])));
    const refused = await newbie.postForm("/admin/enrol", { code: "000000" }, "/admin/enrol");
    problems.push(...(await inspect("new staff /admin/enrol refused", newbie, refused, ["/admin/enrol"], 401)));
    assert.deepEqual(problems, []);
  });

  it("applicants: account, addresses, the two request steps, a waiting request, and a revision", async () => {
    const dev = await signInAs(t, "dev@example.org");
    const problems = [
      ...(await inspect("applicant /requests", dev, await dev.get("/requests"), ["/sign-out"])),
      ...(await inspect("applicant /account", dev, await dev.get("/account"), ["/account/addresses", "/sign-out"])),
      ...(await inspect("applicant /account address sent", dev, await dev.postForm("/account/addresses", { address: "second@example.org" }, "/account"), ["/account/addresses", "/sign-out"])),
    ];
    const removal = await dev.get("/account/addresses/remove?address=second%40example.org");
    problems.push(...(await inspect("applicant address removal", dev, removal, ["/account/addresses/remove", "/sign-out"])));
    const confirm = `/account/addresses/confirm?token=${await mailedToken(t, "second@example.org", "/account/addresses/confirm")}`;
    problems.push(...(await inspect("applicant address confirmation", dev, await dev.get(confirm), ["/account/addresses/confirm", "/sign-out"])));
    const stranger = new Browser(t.app);
    problems.push(...(await inspect("anonymous address confirmation", stranger, await stranger.get(confirm), ["/account/addresses/confirm"])));

    // A user ID whose address is not confirmed: step two offers to send its confirmation link.
    const key = await makeTestKey([{ name: "Dev", email: "dev@example.org" }, { name: "Dev", email: "dev@unconfirmed.example" }]);
    problems.push(...(await inspect("applicant /requests/new", dev, await dev.get("/requests/new"), ["/requests/new", "/sign-out"])));
    const details = await dev.postMultipart("/requests/new", [{ name: "keyText", value: key.publicArmored }], "/requests/new");
    problems.push(...(await inspect("applicant request details step", dev, details, ["/requests", "/requests/refresh", "/sign-out"])));
    const refusedKey = await dev.postMultipart("/requests/new", [{ name: "keyText", value: "not a key" }], "/requests/new");
    problems.push(...(await inspect("applicant request key refused", dev, refusedKey, ["/requests/new", "/sign-out"], 400)));

    const waiting = await submitRequest(t, "owner@example.org", "Owner");
    const owner = waiting.applicant;
    problems.push(...(await inspect("applicant request waiting for review", owner, await owner.get(`/requests/${waiting.id}`), [`/requests/${waiting.id}/withdraw`, "/sign-out"])));

    const [rita] = desk.reviewers;
    const page = `/admin/requests/${waiting.id}`;
    const asked = await rita.postForm(`${page}/request-changes`, { version: await version(rita, page), reason: "Please sign page 2." }, page);
    assert.equal(asked.statusCode, 303);
    problems.push(...(await inspect("applicant request with changes asked", owner, await owner.get(`/requests/${waiting.id}`), ["/sign-out"])));
    const revise = `/requests/${waiting.id}/revise`;
    problems.push(...(await inspect("applicant revision", owner, await owner.get(revise), [revise, "/sign-out"])));
    problems.push(...(await inspect("applicant revision key step", owner, await owner.get(`${revise}/key`), [`${revise}/key`, "/sign-out"])));
    const replacement = await makeTestKey([{ name: "Owner", email: "owner@example.org" }, { name: "Owner", email: "owner@unconfirmed.example" }]);
    const revisedDetails = await owner.postMultipart(`${revise}/key`, [{ name: "version", value: await version(owner, revise) }, { name: "keyText", value: replacement.publicArmored }], `${revise}/key`);
    problems.push(...(await inspect("applicant revision details step", owner, revisedDetails, [revise, `${revise}/refresh`, "/sign-out"])));
    assert.deepEqual(problems, []);
  });

  it("reviewers: a request in review, a certified request, and an open proposed revocation", async () => {
    const [rita, ravi] = desk.reviewers;
    const problems = [
      ...(await inspect("reviewer /admin", rita, await rita.get("/admin"), ["/admin/logout"])),
      ...(await inspect("reviewer /admin/requests", rita, await rita.get("/admin/requests"), ["/admin/logout"])),
    ];
    const inReview = await submitRequest(t, "review@example.org");
    const review = `/admin/requests/${inReview.id}`;
    const decisions = [`${review}/approve`, `${review}/request-changes`, `${review}/reject`, `${review}/notes`, "/admin/logout"];
    problems.push(...(await inspect("reviewer request in review", rita, await rita.get(review), decisions)));
    assert.equal((await rita.postForm(`${review}/approve`, { version: await version(rita, review) }, review)).statusCode, 303);
    problems.push(...(await inspect("reviewer request approved by me", rita, await rita.get(review), decisions.slice(1))));
    problems.push(...(await inspect("second reviewer request in review", ravi, await ravi.get(review), decisions)));

    const certified = await submitRequest(t, "certified@example.org");
    await certifyRequest(t, certified.id, { master: desk.master });
    const keyUpdate = `/account/requests/${certified.id}/key-update`;
    problems.push(...(await inspect("applicant certified request", certified.applicant, await certified.applicant.get(`/requests/${certified.id}`), [keyUpdate, "/sign-out"])));
    problems.push(...(await inspect("applicant key update page", certified.applicant, await certified.applicant.get(keyUpdate), [keyUpdate, "/sign-out"])));
    const show = `/admin/requests/${certified.id}`;
    problems.push(...(await inspect("reviewer certified request", rita, await rita.get(show), [`${show}/revocations`, `${show}/notes`, "/admin/logout"])));
    const proposed = await rita.postForm(`${show}/revocations`, { version: await version(rita, show), reasonCode: "key_compromised", reasonText: "" }, show);
    assert.equal(proposed.statusCode, 303);
    const revocation = await t.app.db.revocation.findFirstOrThrow({ where: { requestId: certified.id, state: "proposed" } });
    const open = `${show}/revocations/${revocation.id}`;
    problems.push(...(await inspect("proposer with the revocation open", rita, await rita.get(show), [`${open}/withdraw`, `${show}/notes`, "/admin/logout"])));
    problems.push(...(await inspect("second reviewer with the revocation open", ravi, await ravi.get(show), [`${open}/approve`, `${open}/withdraw`, `${show}/notes`, "/admin/logout"])));
    problems.push(...(await inspect("signing officer with the revocation open", desk.officer, await desk.officer.get(show), [`${show}/notes`, "/admin/logout"])));
    assert.deepEqual(problems, []);
  });

  it("admins: settings, staff with an open invitation, and staff members in each state", async () => {
    const ada = desk.admin;
    const problems = [
      ...(await inspect("admin /admin/audit", ada, await ada.get("/admin/audit"), ["/admin/logout"])),
      // The setup checklist (no SMTP_URL here, so mail is still to do) and its Hide button.
      ...(await inspect("admin dashboard with the setup checklist", ada, await ada.get("/admin"), ["/admin/setup-checklist", "/admin/logout"])),
      ...(await inspect("admin settings", ada, await ada.get("/admin/settings"), ["/admin/settings", "/admin/settings/master-key", "/admin/logout"])),
      ...(await inspect("admin settings refused", ada, await ada.postForm("/admin/settings", { approvalsRequired: "0", certificationValidityDays: "730", policyUrl: "" }, "/admin/settings"), ["/admin/settings", "/admin/settings/master-key"], 400)),
    ];
    const invite = await t.app.db.linkToken.findFirstOrThrow({ where: { purpose: "staff-invite", address: "invitee@keysign.example", usedAt: null } });
    problems.push(...(await inspect("admin staff with an open invitation", ada, await ada.get("/admin/staff"), [`/admin/staff/invites/${invite.id}/revoke`, "/admin/staff/invite", "/admin/logout"])));
    const members = await t.app.db.staff.findMany({ where: { email: { in: ["rita@keysign.example", "ada@keysign.example"] } } });
    const rita = members.find((m) => m.email === "rita@keysign.example")?.id ?? "";
    const self = members.find((m) => m.email === "ada@keysign.example")?.id ?? "";
    const gone = await createStaff(t, { email: "gone@keysign.example", roles: ["reviewer"], disabled: true });
    for (const [label, id, actions] of [
      ["admin staff member, enabled", rita, ["roles", "disable", "reset-second-factor"]],
      ["admin staff member, disabled", gone.id, ["roles", "enable", "reset-second-factor"]],
      ["admin own staff page", self, ["roles"]],
    ] as const) {
      problems.push(...(await inspect(label, ada, await ada.get(`/admin/staff/${id}`), [...actions.map((a) => `/admin/staff/${id}/${a}`), "/admin/logout"])));
    }
    // A push that failed for good, which staff can retry.
    const push = await t.app.db.keyserverPush.create({
      data: { id: crypto.randomUUID(), keyserver: "hkps://keys.example.net", fingerprint: "A".repeat(40), sha256: "0".repeat(64), status: "failed", attempts: 12, nextAttemptAt: t.clock.now, lastError: "HTTP 500", createdAt: t.clock.now },
    });
    problems.push(...(await inspect("admin publication with a failed push", ada, await ada.get("/admin/publication"), [`/admin/publication/pushes/${push.id}/retry`, "/admin/logout"])));
    assert.deepEqual(problems, []);
  });

  it("signing officers: a queued request, an open and an expired batch, and the import page", async () => {
    await queuedRequest(desk, "queued@example.org");
    const queue = await desk.officer.get("/admin/signing");
    const problems = await inspect("officer signing queue with a queued request", desk.officer, queue, ["/admin/signing/batches", "/admin/logout"]);
    const exported = await desk.officer.postForm("/admin/signing/batches", {}, "/admin/signing");
    assert.equal(exported.statusCode, 303);
    const page = String(exported.headers.location).replace(/\?.*$/, "");
    problems.push(...(await inspect("officer open batch", desk.officer, await desk.officer.get(page), ["/admin/logout"])));
    // Only an expired batch can be cancelled; the desk signs everybody in again after the wait.
    const batch = await t.app.db.batch.findFirstOrThrow({ where: { state: "exported" }, orderBy: { number: "desc" } });
    await laterBy(desk, batch.expiresAt.getTime() - t.clock.now.getTime() + 1000);
    problems.push(...(await inspect("officer expired batch", desk.officer, await desk.officer.get(page), [`${page}/cancel`, "/admin/logout"])));
    problems.push(...(await inspect("officer import page", desk.officer, await desk.officer.get("/admin/signing/import"), ["/admin/signing/import", "/admin/logout"])));
    const refused = await desk.officer.postMultipart("/admin/signing/import", [{ name: "result", filename: "result.json", content: Buffer.from("{}") }], "/admin/signing/import");
    problems.push(...(await inspect("officer import refused", desk.officer, refused, ["/admin/signing/import", "/admin/logout"], 422)));
    assert.deepEqual(problems, []);
  });

  // Renewal and replacement (issue 13).
  it("owners: the renew page and a replacement's choice", async () => {
    const renewing = await submitRequest(t, "renewing@example.org");
    await certifyRequest(t, renewing.id, { master: desk.master });
    const problems = await inspect("owner renew page", renewing.applicant, await renewing.applicant.get(`/requests/${renewing.id}/renew`), [`/requests/${renewing.id}/renew`]);
    const old = await submitRequest(t, "replacing@example.org");
    await certifyRequest(t, old.id, { master: desk.master });
    const newKey = await makeTestKey([{ name: "Dev", email: "replacing@example.org" }]);
    const replaced = await old.applicant.postMultipart("/requests", await submissionParts(newKey, "Dev <replacing@example.org>"), `/requests/${old.id}/replace`);
    const newId = String(replaced.headers.location).split("/").pop() ?? "";
    await certifyRequest(t, newId, { master: desk.master });
    problems.push(...(await inspect("owner replacement choice", old.applicant, await old.applicant.get(`/requests/${newId}`), [`/requests/${newId}/replaced-choice`])));
    assert.deepEqual(problems, []);
  });

  // Master key rotation (issue 13): the retire form, the re-certify button and a revocation the new master must sign.
  it("admins and officers during a master rotation", async () => {
    const newMaster = await makeMaster();
    const newFingerprint = newMaster.getFingerprint().toUpperCase();
    const registered = await desk.admin.postMultipart("/admin/settings/new-master", [{ name: "newMasterKeyText", value: newMaster.toPublic().armor() }], "/admin/settings");
    assert.equal(registered.statusCode, 303, registered.body.slice(0, 500));
    const problems = await inspect("admin settings with a new master", desk.admin, await desk.admin.get("/admin/settings"), ["/admin/settings/retire-master", "/admin/logout"]);
    const rotated = await submitRequest(t, "rotated@example.org");
    const { certifications } = await certifyRequest(t, rotated.id, { master: desk.master });
    // A certification by the new master with no sealed revocation, and a revocation waiting for a batch: only the new master can sign it.
    await t.app.db.certification.create({
      data: { id: crypto.randomUUID(), requestId: rotated.id, batchNumber: 2, userId: certifications[0]?.userId ?? "", signature: new Uint8Array(certifications[0]?.certification ?? []), certifiedAt: t.clock.now, masterFingerprint: newFingerprint },
    });
    const staff = await t.app.db.staff.findFirstOrThrow({ where: { email: "ada@keysign.example" } });
    await t.app.db.revocation.create({ data: { id: crypto.randomUUID(), requestId: rotated.id, reasonCode: "key_compromised", reasonText: "Reported stolen", state: "queued", proposedById: staff.id, createdAt: t.clock.now } });
    const queue = await desk.officer.get("/admin/signing");
    problems.push(...(await inspect("officer queue during a rotation", desk.officer, queue, ["/admin/signing/recertify", "/admin/signing/master-revocations", "/admin/logout"])));
    assert.deepEqual(problems, []);
  });

  it("checked a form for every POST route the app has", (context) => {
    // POST /pks/add is for `gpg --send-keys` and POST /check-module/json for scripts, not pages: no form, and no token (body-rules.ts).
    const machine = ["/pks/add", "/check-module/json"];
    const routes = t.app.routeTable.filter((r) => r.method === "POST" && r.url !== PROBE && r.url !== MULTIPART_PROBE && !machine.includes(r.url));
    const pattern = (url: string) => new RegExp(`^${url.replace(/\/$/, "").replace(/:[A-Za-z]+/g, "[^/]+")}$`);
    const unformed = routes.filter((route) => !checked.some((form) => pattern(route.url).test(form.action.replace(/\/$/, "")))).map((r) => r.url);
    assert.deepEqual(unformed, []);
    const pages = new Set(checked.map((form) => form.page));
    context.diagnostic(`${checked.length} forms on ${pages.size} pages, ${routes.length} POST routes`);
  });
});
