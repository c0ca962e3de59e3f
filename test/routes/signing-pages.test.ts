/**
 * The signing pages as the officer reads them: applicants and grouped fingerprints instead of
 * ids, a title naming each page, the signer's commands with the real file names (run here by
 * the real CLI), the batch's SHA-256 grouped exactly as `keysign inspect` prints it, and an
 * import that lists what changed, each item linking to its request.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { runKeysign } from "../helpers/cli.ts";
import { withGpgHome } from "../helpers/gpg.ts";
import { exportBatch, importResult, queuedRequest, queuedRevocation, signBatch, signingDesk, type SigningDesk } from "../helpers/signing-queue.ts";

function unescape(html: string): string {
  return html.replace(/&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&#x3D;/g, "=").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function titleOf(html: string): string {
  return /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? "";
}

/** The digest as a person reads it on the page: the code element's text, its lines joined by a space. */
function pageDigest(html: string, id: string): string {
  const inner = new RegExp(`<code class="sha256" id="${id}">(.*?)</code>`).exec(html)?.[1] ?? "";
  return inner.replace(/<[^>]+>/g, "");
}

/** The digest as `keysign` prints it: the label's line and the indented line under it. */
function cliDigest(stdout: string, indent = ""): string {
  const match = new RegExp(`^${indent}SHA-256 {5}(.+)\\n${indent} {12}(.+)$`, "m").exec(stdout);
  return match ? `${match[1]} ${match[2]}` : "";
}

/** The words of a command shown on the page after `npm run keysign --`, as the CLI receives them. */
function signerArgs(html: string, subcommand: string): string[] {
  const command = new RegExp(`<code>npm run keysign -- (${subcommand} [^<]*)</code>`).exec(unescape(html))?.[1];
  assert.ok(command, `the page shows the ${subcommand} command`);
  return command.split(" ");
}

describe("signing pages", () => {
  let t: TestApp;
  let desk: SigningDesk;
  let dir: string;
  const ids: Record<"certify" | "decline" | "revoke", string> = { certify: "", decline: "", revoke: "" };
  let fingerprint = "";

  before(async () => {
    t = await createTestApp();
    desk = await signingDesk(t);
    dir = await mkdtemp(path.join(tmpdir(), "keysign-signing-pages-"));
    const certify = await queuedRequest(desk, "ada.dev@example.org", "Ada Dev");
    ids.certify = certify.id;
    fingerprint = certify.key.fingerprint;
    ids.decline = (await queuedRequest(desk, "declined@example.org", "Dee Clined")).id;
    ids.revoke = (await queuedRevocation(desk, "stolen@example.org", "Sto Len")).id;
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the queue names each applicant and key, not request ids, under a title naming the page", async () => {
    const page = await desk.officer.get("/admin/signing");
    assert.equal(titleOf(page.body), "Signing queue · Keysign");
    assert.match(page.body, new RegExp(`<a href="/admin/requests/${ids.certify}">ada\\.dev@example\\.org</a>`));
    assert.match(page.body, new RegExp(`<div class="fingerprint">${formatFingerprint(fingerprint)}</div>`));
    assert.match(page.body, new RegExp(`<a href="/admin/requests/${ids.revoke}">stolen@example\\.org</a>`));
    assert.match(page.body, /Key compromised: The laptop was stolen\./);
    // No request id is shown as text: only inside links.
    assert.doesNotMatch(page.body, new RegExp(`>${ids.certify}<`));
  });

  it("the queue shows the command that sets up a signing machine, and the CLI takes it as shown", async () => {
    const page = await desk.officer.get("/admin/signing");
    const init = signerArgs(page.body, "init");
    const queueKeyFile = init[2] ?? "";
    assert.deepEqual(init, ["init", "--queue-key", queueKeyFile, "--gpg", "--master", desk.master.getFingerprint().toUpperCase()]);
    const download = await desk.officer.get("/admin/signing/queue-key.asc");
    assert.equal(/filename="([^"]+)"/.exec(String(download.headers["content-disposition"]))?.[1], queueKeyFile);
    await writeFile(path.join(dir, queueKeyFile), download.body);
    await withGpgHome(async (gpg) => {
      await gpg.ok(["--import"], { input: desk.master.armor() });
      const args = init.map((word) => (word === queueKeyFile ? path.join(dir, queueKeyFile) : word));
      const run = await runKeysign([...args, "--gpg-home", gpg.dir, "--home", path.join(dir, "signer-home")], dir);
      assert.equal(run.code, 0, run.stdout + run.stderr);
    });
  });

  it("the batch page shows the commands with the real file name, and the CLI takes them as shown", async () => {
    const { number, file } = await exportBatch(desk);
    const page = await desk.officer.get(`/admin/signing/batches/${number}`);
    assert.equal(titleOf(page.body), `Batch ${number} · Keysign`);
    const download = await desk.officer.get(`/admin/signing/batches/${number}/file`);
    const name = /filename="([^"]+)"/.exec(String(download.headers["content-disposition"]))?.[1] ?? "";
    assert.equal(name, `keysign-batch-${number}.json`);
    await writeFile(path.join(dir, name), file);

    const inspect = signerArgs(page.body, "inspect");
    assert.deepEqual(inspect, ["inspect", name]);
    // Without pins, inspect still prints the file's digest (and marks the contents NOT CHECKED).
    const env = { KEYSIGN_HOME: path.join(dir, "no-pins") };
    const run = await runKeysign(inspect.map((word) => (word === name ? path.join(dir, name) : word)), dir, env);
    assert.equal(run.code, 8, run.stderr);
    assert.notEqual(cliDigest(run.stdout), "");
    assert.equal(pageDigest(page.body, "batch-sha256"), cliDigest(run.stdout), "the page's digest reads exactly as keysign inspect prints it");

    const sign = signerArgs(page.body, "sign");
    assert.deepEqual(sign, ["sign", name]);
    const signing = await runKeysign(sign.map((word) => (word === name ? path.join(dir, name) : word)), dir, env);
    // The arguments are accepted (a usage error would be exit 2); only the pins are missing.
    assert.equal(signing.code, 8, signing.stderr);
    assert.deepEqual(signerArgs(page.body, "inspect [^< ]+\\.result\\.json"), ["inspect", `keysign-batch-${number}.result.json`, "--batch", name]);
    // The officer reads every item by applicant and key.
    for (const address of ["ada.dev@example.org", "declined@example.org", "stolen@example.org"]) assert.match(page.body, new RegExp(address.replace(".", "\\.")));
    assert.match(page.body, /Waiting for the result/);
  });

  it("a successful import lists each certified, revoked and declined item with a link to its request", async () => {
    const batch = await t.app.db.batch.findFirstOrThrow({ orderBy: { number: "desc" } });
    const result = await signBatch(new Uint8Array(batch.file), desk.master, { decline: new Map([[ids.decline, "Agreement page 2 is unsigned"]]) });
    const response = await importResult(desk, result);
    assert.equal(response.statusCode, 200, response.body.slice(0, 500));
    assert.equal(titleOf(response.body), `Batch ${batch.number} imported · Keysign`);
    assert.match(response.body, new RegExp(`Batch ${batch.number} imported: 1 certified, 1 declined \\(back to review\\), 1 revocation\\(s\\) applied`));
    const section = (id: string) => new RegExp(`<h2 id="${id}">[\\s\\S]*?</ul>`).exec(response.body)?.[0] ?? "";
    assert.match(section("imported-certified"), new RegExp(`<a href="/admin/requests/${ids.certify}">ada\\.dev@example\\.org</a>`));
    assert.match(section("imported-revoked"), new RegExp(`<a href="/admin/requests/${ids.revoke}">stolen@example\\.org</a>`));
    assert.match(section("imported-declined"), new RegExp(`<a href="/admin/requests/${ids.decline}">declined@example\\.org</a>`));
    assert.match(section("imported-declined"), /Signer's reason: Agreement page 2 is unsigned/);
    assert.doesNotMatch(section("imported-certified"), /declined@example\.org/);

    // The result's digest reads as `keysign sign` printed it, beside the batch it closed.
    const resultPath = path.join(dir, "result.json");
    await writeFile(resultPath, result);
    const run = await runKeysign(["inspect", resultPath], dir, { KEYSIGN_HOME: path.join(dir, "no-pins") });
    assert.equal(pageDigest(response.body, "result-sha256"), cliDigest(run.stdout));
    const page = await desk.officer.get(`/admin/signing/batches/${batch.number}`);
    assert.equal(pageDigest(page.body, "result-sha256"), cliDigest(run.stdout));
  });
});
