/**
 * `keysign module verify` against FreePBX's own rules: a GnuPG-based oracle (test/helpers/
 * module-oracle.ts) says what an install would show for each generated module, and Keysign's
 * FreePBX bits must be the same, with Keysign's own verdict beside them. Where Keysign differs on
 * purpose (SHA-1 from a signer that is not FreePBX's, a revocation by a non-RSA master, the
 * status feed) the test asserts the reason.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:http";
import { describe, it, type TestContext } from "node:test";
import { moduleVerify } from "../../src/cli/module-verify.ts";
import { loadKeys } from "../../src/core/module-sig/keyring.ts";
import { checkSignature, FREEPBX_MASTERS, judgeModule } from "../../src/core/module-sig/verify.ts";
import { withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { runKeysign } from "../helpers/cli.ts";
import { writeSignedFeed } from "../helpers/status-feed.ts";
import { BITS, fingerprintOf, freepbxVerdict, hashLines, revokeCertification, sigText, trustSign, writeModule } from "../helpers/module-oracle.ts";

const SHARED = path.resolve(import.meta.dirname, "../../../shared/freepbx");
const noShared = existsSync(SHARED) ? false : "the FreePBX reference data (../shared/freepbx) is not present";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The command in-process, as the CLI entry runs it. */
async function verify(args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await moduleVerify(args, { env: process.env, stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } });
  return { code, stdout, stderr };
}

interface JsonModule {
  report: { status: number; details: string[]; verdict: string; reason: string; signer: { fingerprint: string; signingKey: string } | null; notes: string[] };
  unlisted: Array<{ path: string; official: string | null }>;
}

async function verifyJson(directory: string, extra: string[]): Promise<{ code: number; module: JsonModule }> {
  const run = await verify([directory, "--json", ...extra]);
  const parsed = JSON.parse(run.stdout) as { modules: JsonModule[] };
  const [module] = parsed.modules;
  assert.ok(module, run.stderr);
  return { code: run.code, module };
}

interface Workshop {
  masters: GpgHome;
  developers: GpgHome;
  install: GpgHome;
  work: string;
  keyring: string;
  fpr: Record<string, string>;
  masterIds: string[];
}

const DATE_FORMAT = (date: Date) => date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "");

async function generate(home: GpgHome, email: string, algorithm: string, usage: string, expire = "0", at?: Date): Promise<string> {
  const clock = at ? ["--faked-system-time", `${DATE_FORMAT(at)}!`] : [];
  await home.ok([...clock, "--passphrase", "", "--quick-gen-key", `${email.split("@")[0]} <${email}>`, algorithm, usage, expire]);
  return fingerprintOf(home, email);
}

/** Keys as the cases need them, made and certified by GnuPG; the install holds them all, masters at ultimate ownertrust. */
async function buildWorkshop(masters: GpgHome, developers: GpgHome, install: GpgHome, work: string): Promise<Workshop> {
  const fpr: Record<string, string> = {};
  // Made in the past, so that it can certify the expired key while that was still valid.
  const past = new Date("2024-12-01T00:00:00Z");
  fpr.master = await generate(masters, "master@example.org", "rsa2048", "sign,cert", "0", past);
  fpr.edMaster = await generate(masters, "ed-master@example.org", "ed25519", "sign,cert", "0", past);
  fpr.introducer = await generate(masters, "mirror@example.org", "ed25519", "sign,cert", "0", past);
  for (const name of ["dev", "stranger", "revoked", "marginal", "edRevoked", "selfRevoked", "certExpired"]) fpr[name] = await generate(developers, `${name}@example.org`, "ed25519", "sign,cert", "0", past);
  fpr.expired = await generate(developers, "expired@example.org", "ed25519", "sign,cert", "2025-06-01", new Date("2025-01-01T00:00:00Z"));
  fpr.subkeyed = await generate(developers, "subkeyed@example.org", "ed25519", "cert", "0", past);
  await developers.ok(["--passphrase", "", "--quick-add-key", fpr.subkeyed, "ed25519", "sign", "0"]);
  await masters.ok(["--import"], { input: await developers.ok(["--export"]) });
  // Certified in the past and revoked now, so a revocation is always the newer signature.
  const certified = new Date("2025-01-02T00:00:00Z");
  const sign = (signer: string, target: string) => masters.ok(["--faked-system-time", `${DATE_FORMAT(certified)}!`, "--local-user", signer, "--quick-sign-key", target]);
  for (const name of ["dev", "revoked", "subkeyed", "expired", "selfRevoked"]) await sign(fpr.master, fpr[name] ?? "");
  await sign(fpr.edMaster, fpr.edRevoked ?? "");
  // A certification valid for one day, long past.
  await masters.ok(["--faked-system-time", `${DATE_FORMAT(certified)}!`, "--default-cert-expire", "1d", "--local-user", fpr.master, "--quick-sign-key", fpr.certExpired ?? ""]);
  await trustSign(masters, fpr.master, fpr.introducer);
  await sign(fpr.introducer, fpr.marginal ?? "");
  await revokeCertification(masters, fpr.master, fpr.revoked ?? "", "key lost");
  await revokeCertification(masters, fpr.edMaster, fpr.edRevoked ?? "", "malicious module");
  // The owner revokes their own key: GnuPG made the revocation certificate with the key (":-" guards it).
  const revocation = await readFile(path.join(developers.dir, "openpgp-revocs.d", `${fpr.selfRevoked}.rev`), "utf8");
  await masters.ok(["--import"], { input: revocation.replace(/^:-----/m, "-----") });
  const keyring = path.join(work, "keyring.gpg");
  await writeFile(keyring, await masters.ok(["--export"]));
  await install.ok(["--import", keyring]);
  await install.ok(["--import-ownertrust"], { input: `${fpr.master}:6:\n${fpr.edMaster}:6:\n` });
  return { masters, developers, install, work, keyring, fpr, masterIds: [fpr.master.slice(-16), fpr.edMaster.slice(-16)] };
}

const FILES = { "module.xml": "<module><rawname>demo</rawname></module>\n", "functions.inc.php": "<?php\n", "assets/large.js": "x".repeat(1536 * 1024), "assets/my file@2x.png": "png", "i18n/de/demo.po": "po", ".gitattributes": "x", "notes.txt": "n", "extra.php": "unlisted" };
/** One file above the size that is read whole, so the streamed hash is checked too. */
const LISTED = ["assets/large.js", "assets/my file@2x.png", "functions.inc.php", "module.xml"];

let counter = 0;

/** A module signed by `signer` (a key in `home`), with `text` (default: the listed files' hashes). */
async function signedModule(w: Workshop, home: GpgHome, signer: string, options: { text?: (directory: string) => string; gpgArgs?: string[]; at?: Date } = {}): Promise<string> {
  const directory = path.join(w.work, `module-${(counter += 1)}`);
  await writeModule(directory, FILES);
  const text = options.text?.(directory) ?? sigText(signer, hashLines(directory, LISTED));
  const clock = options.at ? ["--faked-system-time", `${DATE_FORMAT(options.at)}!`] : [];
  const signed = await home.ok([...clock, "--local-user", signer, ...(options.gpgArgs ?? ["--digest-algo", "SHA256"]), "--clearsign"], { input: text });
  await writeFile(path.join(directory, "module.sig"), signed);
  return directory;
}

/** Runs the oracle and Keysign on `directory`; asserts the bits and details agree and returns both. */
async function compare(t: TestContext, w: Workshop, directory: string, expectedBits: number): Promise<JsonModule> {
  const oracle = await freepbxVerdict(w.install, directory, w.masterIds);
  const { module } = await verifyJson(directory, ["--keyring", w.keyring, "--master", w.fpr.master ?? "", "--master", w.fpr.edMaster ?? ""]);
  t.diagnostic(`FreePBX ${oracle.status} ${JSON.stringify(oracle.details)}; Keysign ${module.report.verdict}: ${module.report.reason}`);
  assert.equal(oracle.status, expectedBits, `the oracle: ${JSON.stringify(oracle)}`);
  assert.equal(module.report.status, oracle.status, "Keysign's FreePBX bits are the oracle's");
  assert.deepEqual(module.report.details, oracle.details, "and so are the detail lines");
  return module;
}

describe("keysign module verify, with FreePBX's own rules as the oracle", () => {
  it("agrees with FreePBX on every case, and says why in one verdict", { timeout: 300_000 }, async (t) => {
    const work = await mkdtemp(path.join(tmpdir(), "keysign-modules-"));
    try {
      await withGpgHome((masters) =>
        withGpgHome((developers) =>
          withGpgHome(async (install) => {
            const w = await buildWorkshop(masters, developers, install, work);
            await runCases(t, w);
          }),
        ),
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

async function runCases(t: TestContext, w: Workshop): Promise<void> {
  const fpr = (name: string) => w.fpr[name] ?? "";

  await t.test("good: 129, trusted; spaces and @ in paths; unlisted files apart, official exclusions named", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("dev")), BITS.GOOD | BITS.TRUSTED);
    assert.equal(module.report.verdict, "trusted");
    assert.match(module.report.reason, new RegExp(`certified by master ${fpr("master")}.*all 4 listed files match`));
    assert.deepEqual(
      module.unlisted.map((file) => [file.path, file.official]),
      [[".gitattributes", "dot-file"], ["extra.php", null], ["i18n/de/demo.po", "top-level i18n/"], ["notes.txt", "*.txt"]],
    );
  });

  await t.test("one listed file altered: 130, tampered, never 'Good' beside it", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    await writeFile(path.join(directory, "assets/my file@2x.png"), "PNG");
    const module = await compare(t, w, directory, BITS.TAMPERED | BITS.TRUSTED);
    assert.equal(module.report.verdict, "tampered");
    assert.match(module.report.reason, /assets\/my file@2x\.png was altered/);
  });

  await t.test("one listed file missing: 130", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    await unlink(path.join(directory, "functions.inc.php"));
    const module = await compare(t, w, directory, BITS.TAMPERED | BITS.TRUSTED);
    assert.deepEqual(module.report.details, ["functions.inc.php missing"]);
  });

  await t.test("an unlisted file changed or added decides nothing", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    await writeFile(path.join(directory, "extra.php"), "changed");
    await writeFile(path.join(directory, "new.php"), "new");
    assert.equal((await compare(t, w, directory, BITS.GOOD | BITS.TRUSTED)).report.verdict, "trusted");
  });

  await t.test("module.sig edited after signing: BADSIG, 2", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const file = path.join(directory, "module.sig");
    await writeFile(file, (await readFile(file, "utf8")).replace("repo=test", "repo=evil"));
    const module = await compare(t, w, directory, BITS.TAMPERED);
    assert.equal(module.report.verdict, "tampered");
    assert.match(module.report.reason, /changed after it was signed/);
  });

  await t.test("unsigned: 8", async (t) => {
    const directory = path.join(w.work, "unsigned");
    await writeModule(directory, FILES);
    assert.equal((await compare(t, w, directory, BITS.UNSIGNED)).report.verdict, "unsigned");
  });

  await t.test("signed by an uncertified key: 7, untrusted", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("stranger")), BITS.GOOD | BITS.TAMPERED | BITS.INVALID);
    assert.equal(module.report.verdict, "untrusted");
    assert.match(module.report.reason, /no valid certification by a master key/);
  });

  await t.test("certification revoked by an RSA master: 64, revoked with date and reason", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("revoked")), BITS.REVOKED);
    assert.equal(module.report.verdict, "revoked");
    assert.match(module.report.reason, /revoked on \d{4}-\d{2}-\d{2} \(key lost\)/);
    assert.doesNotMatch(module.report.reason, /FreePBX would not see/);
  });

  await t.test("certification revoked by a non-RSA master: FreePBX misses it (7); Keysign says revoked, and why FreePBX does not", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("edRevoked")), BITS.GOOD | BITS.TAMPERED | BITS.INVALID);
    assert.equal(module.report.verdict, "revoked");
    assert.match(module.report.reason, /FreePBX would not see this revocation \(its check expects an RSA master key\)/);
  });

  await t.test("a key its owner revoked: REVKEYSIG and TRUST_UNDEFINED give 7; Keysign says revoked", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("selfRevoked")), BITS.GOOD | BITS.TAMPERED | BITS.INVALID);
    assert.equal(module.report.verdict, "revoked");
    assert.match(module.report.reason, /was revoked by its owner on \d{4}-\d{2}-\d{2}/);
  });

  await t.test("a master certification that has expired counts for nothing: 7, untrusted", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("certExpired")), BITS.GOOD | BITS.TAMPERED | BITS.INVALID);
    assert.equal(module.report.verdict, "untrusted");
  });

  await t.test("expired signing key: EXPIRED (with VALIDSIG's GOOD), expired", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("expired"), { at: new Date("2025-03-01T00:00:00Z") });
    const module = await compare(t, w, directory, BITS.GOOD | BITS.EXPIRED);
    assert.equal(module.report.verdict, "expired");
  });

  await t.test("expiresafter in the past (version 2): 64, revoked", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"), { text: (d) => sigText(fpr("dev"), hashLines(d, LISTED), { config: ["expiresafter=1700000000"] }) });
    const module = await compare(t, w, directory, BITS.REVOKED);
    assert.equal(module.report.verdict, "revoked");
    assert.match(module.report.reason, /expires after 2023-11-14/);
  });

  await t.test("expiresafter in the past with version 1: ignored, as FreePBX does", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"), { text: (d) => sigText(fpr("dev"), hashLines(d, LISTED), { version: 1, config: ["expiresafter=1700000000"] }) });
    await compare(t, w, directory, BITS.GOOD | BITS.TRUSTED);
  });

  await t.test("signed by a subkey: the signer is found from the signature, not from signedwith", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("subkeyed"), { text: (d) => sigText("0000000000000000000000000000000000000000", hashLines(d, LISTED)) });
    const module = await compare(t, w, directory, BITS.GOOD | BITS.TRUSTED);
    assert.equal(module.report.signer?.fingerprint, fpr("subkeyed"));
    assert.notEqual(module.report.signer?.signingKey, fpr("subkeyed"), "the subkey made it");
  });

  await t.test("certified only through an introducer (trust signature 1/60): marginal for GnuPG, so not trusted", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.developers, fpr("marginal")), BITS.GOOD);
    assert.equal(module.report.verdict, "untrusted");
    assert.match(module.report.reason, new RegExp(`certified only by ${fpr("introducer")}.*marginal`));
  });

  await t.test("the introducer's own signature is trusted: a master certified it directly", async (t) => {
    await compare(t, w, await signedModule(w, w.masters, fpr("introducer")), BITS.GOOD | BITS.TRUSTED);
  });

  await t.test("SHA-1 by a key that is not FreePBX's: FreePBX says 129, Keysign refuses it and says why", async (t) => {
    const module = await compare(t, w, await signedModule(w, w.masters, fpr("master"), { gpgArgs: ["--digest-algo", "SHA1"] }), BITS.GOOD | BITS.TRUSTED);
    assert.equal(module.report.verdict, "refused");
    assert.match(module.report.reason, /SHA-1, which Keysign accepts only from FreePBX's own signing keys/);
  });

  await t.test("SHA-1 by an allowlisted signer is accepted (the rule, with this master on the allowlist)", async () => {
    const directory = await signedModule(w, w.masters, fpr("master"), { gpgArgs: ["--digest-algo", "SHA1"] });
    const keys = (await loadKeys([{ source: "keyring", bytes: new Uint8Array(await readFile(w.keyring)) }])).keys;
    const findings = await checkSignature({ moduleSig: await readFile(path.join(directory, "module.sig")), keys, masters: [fpr("master")], sha1Signers: [fpr("master")], now: new Date() });
    assert.equal(findings.decided, null);
    assert.equal(findings.freepbx.status, BITS.GOOD | BITS.TRUSTED);
  });

  await t.test("a key missing from the key material: ERRSIG's INVALID, and which key to add", async () => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const { code, module } = await verifyJson(directory, ["--keys", await keysDirWithout(w), "--master", fpr("master")]);
    assert.equal(code, 12);
    assert.equal(module.report.status, BITS.INVALID);
    assert.match(module.report.reason, new RegExp(`signed by key ${fpr("dev")}, which is not in the keys given`));
  });

  await t.test("a symlinked listed file is followed", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const target = path.join(w.work, "outside.php");
    await writeFile(target, "<?php\n");
    await unlink(path.join(directory, "functions.inc.php"));
    await symlink(target, path.join(directory, "functions.inc.php"));
    await compare(t, w, directory, BITS.GOOD | BITS.TRUSTED);
  });

  await t.test("--feed FILE: a revocation published only in the portal's feed is revoked, with its date and reason", async (t) => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const feed = await writeSignedFeed(w.work, [{ fingerprint: fpr("dev"), state: "revoked" }], new Date(Date.now() + 86_400_000));
    const oracle = await freepbxVerdict(w.install, directory, w.masterIds);
    const { code, module } = await verifyJson(directory, ["--keyring", w.keyring, "--master", fpr("master"), "--feed", feed.file, "--publication-key", feed.publicationKey]);
    t.diagnostic(`FreePBX ${oracle.status}; Keysign ${module.report.verdict}: ${module.report.reason}`);
    assert.equal(code, 12);
    assert.equal(module.report.status, oracle.status, "FreePBX's bits come from its keyring, which has not seen the feed");
    assert.equal(module.report.verdict, "revoked");
    assert.match(module.report.reason, new RegExp(`the portal revoked the certification of key ${fpr("dev")} on 2026-02-03 \\(malicious module\\)`));
  });

  await t.test("--feed FILE past its validUntil: 'revocation status stale since', never trusted", async () => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const feed = await writeSignedFeed(w.work, [{ fingerprint: fpr("dev"), state: "certified" }], new Date("2026-01-05T00:00:00Z"));
    const { code, module } = await verifyJson(directory, ["--keyring", w.keyring, "--master", fpr("master"), "--feed", feed.file, "--publication-key", feed.publicationKey]);
    assert.equal(code, 12);
    assert.equal(module.report.verdict, "stale");
    assert.match(module.report.reason, /^revocation status stale since 2026-01-05T00:00:00\.000Z/);
  });

  await t.test("--feed signed by another key than the pinned one is refused (exit 6)", async () => {
    const directory = await signedModule(w, w.developers, fpr("dev"));
    const feed = await writeSignedFeed(w.work, [], new Date(Date.now() + 86_400_000));
    const other = await writeSignedFeed(w.work, [], new Date(Date.now() + 86_400_000));
    const run = await verify([directory, "--keyring", w.keyring, "--feed", feed.file, "--publication-key", other.publicationKey]);
    assert.equal(run.code, 6);
    assert.match(run.stderr, /the status feed was refused/);
  });

  await t.test("--portal: the signer's key is fetched by the key ID in the signature (HKP)", async () => {
    const directory = await signedModule(w, w.developers, fpr("subkeyed"));
    const asked: string[] = [];
    const server = createServer((request, response) => {
      const search = new URL(request.url ?? "/", "http://portal").searchParams.get("search") ?? "";
      asked.push(search);
      void w.masters.run(["--armor", "--export", search]).then((exported) => {
        response.writeHead(exported.stdout.length > 0 ? 200 : 404, { "content-type": "application/pgp-keys" }).end(exported.stdout);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      const { code, module } = await verifyJson(directory, ["--portal", `http://127.0.0.1:${port}/`, "--master", fpr("master")]);
      assert.equal(module.report.verdict, "trusted", module.report.reason);
      assert.equal(code, 0);
      assert.ok(asked.includes(`0x${module.report.signer?.signingKey.slice(-16)}`), `asked for the signing subkey's key ID: ${asked.join(", ")}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  await t.test("--framework-root reads framework's amp_conf/htdocs/X at WEBROOT/X; type=local names the file FreePBX checks instead", async () => {
    const directory = await signedModule(w, w.developers, fpr("dev"), {
      text: (d) => {
        const listed = `${hashLines(d, LISTED)}\namp_conf/htdocs/admin/index.php = ${createHash("sha256").update("<?php // web root\n").digest("hex")}`;
        return sigText(fpr("dev"), listed, { config: ["type=local"] });
      },
    });
    const webRoot = path.join(w.work, "webroot");
    await writeModule(webRoot, { "admin/index.php": "<?php // web root\n" });
    const masters = ["--keyring", w.keyring, "--master", fpr("master")];
    const without = await verifyJson(directory, masters);
    assert.equal(without.module.report.verdict, "tampered");
    assert.deepEqual(without.module.report.details, ["amp_conf/htdocs/admin/index.php missing"]);
    const mapped = await verifyJson(directory, [...masters, "--framework-root", webRoot]);
    assert.equal(mapped.module.report.verdict, "trusted", mapped.module.report.reason);
    assert.ok(mapped.module.report.notes.some((note) => note.includes(`/etc/freepbx.secure/${path.basename(directory)}.sig`)));
  });

  await t.test("the text report and the exit codes", async () => {
    const good = await signedModule(w, w.developers, fpr("dev"));
    const bad = await signedModule(w, w.developers, fpr("stranger"));
    const masters = ["--master", w.fpr.master ?? ""];
    const both = await verify([good, bad, "--keyring", w.keyring, ...masters]);
    assert.equal(both.code, 12, "one module is not trusted");
    assert.match(both.stdout, /Keysign: trusted: certified by master/);
    assert.match(both.stdout, /FreePBX: 129 GOOD\|TRUSTED/);
    assert.match(both.stdout, /FreePBX: 7 GOOD\|TAMPERED\|INVALID\n {11}module\.sig check failed! Signed by unknown, untrusted key\./);
    assert.equal((await verify([good, "--keyring", w.keyring, ...masters])).code, 0);
    assert.equal((await verify([good])).code, 2, "no key source is a usage error");
  });
}

/** An install-like --keys directory holding the masters only. */
async function keysDirWithout(w: Workshop): Promise<string> {
  const directory = path.join(w.work, "bmo");
  await mkdir(directory, { recursive: true });
  await writeFile(path.join(directory, `${(w.fpr.master ?? "").slice(-16)}.key`), await w.masters.ok(["--armor", "--export", w.fpr.master ?? ""]));
  return directory;
}

describe("keysign module verify on FreePBX's real module", () => {
  it("verifies infoservices TRUSTED|GOOD with the five keys, and fails as FreePBX does after one byte changes", { skip: noShared, timeout: 120_000 }, async (t) => {
    const work = await mkdtemp(path.join(tmpdir(), "keysign-infoservices-"));
    try {
      const directory = path.join(work, "infoservices");
      await cp(path.join(SHARED, "modules/infoservices"), directory, { recursive: true });
      const good = await verifyJson(directory, ["--keys", path.join(SHARED, "keys")]);
      assert.equal(good.code, 0);
      assert.equal(good.module.report.status, BITS.GOOD | BITS.TRUSTED);
      assert.equal(good.module.report.verdict, "trusted");
      assert.equal(good.module.report.signer?.fingerprint, "456D051E9204C27C37D4811BB53D215A755231A3");
      assert.ok(good.module.unlisted.every((file) => file.official !== null), "only officially excluded files are unlisted");
      await withGpgHome(async (install) => {
        for (const key of ["1588A7366BD35B34", "9F9169F4B33B4659", "B53D215A755231A3", "86CE877469D2EAD9", "3DDB2122FE6D84F7"]) await install.ok(["--import", path.join(SHARED, "keys", `${key}.key`)]);
        await install.ok(["--import-ownertrust"], { input: FREEPBX_MASTERS.map((fingerprint) => `${fingerprint}:6:\n`).join("") });
        const masterIds = FREEPBX_MASTERS.map((fingerprint) => fingerprint.slice(-16));
        assert.equal((await freepbxVerdict(install, directory, masterIds)).status, BITS.GOOD | BITS.TRUSTED);
        const file = path.join(directory, "install.php");
        const bytes = await readFile(file);
        bytes[0] = (bytes[0] ?? 0) ^ 1;
        await writeFile(file, bytes);
        const oracle = await freepbxVerdict(install, directory, masterIds);
        const altered = await verifyJson(directory, ["--keys", path.join(SHARED, "keys")]);
        t.diagnostic(`FreePBX ${oracle.status} ${JSON.stringify(oracle.details)}; Keysign ${altered.module.report.verdict}: ${altered.module.report.reason}`);
        assert.deepEqual({ status: altered.module.report.status, details: altered.module.report.details }, oracle);
        assert.equal(oracle.status, BITS.TAMPERED | BITS.TRUSTED);
        assert.equal(altered.module.report.verdict, "tampered");
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("the keysign command", () => {
  it("runs module verify as an admin would, with the verdict first and exit 0 for a trusted module", { skip: noShared, timeout: 60_000 }, async () => {
    const work = await mkdtemp(path.join(tmpdir(), "keysign-module-cli-"));
    try {
      const run = await runKeysign(["module", "verify", path.join(SHARED, "modules/infoservices"), "--keys", path.join(SHARED, "keys")], work);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^infoservices \(.*\)\n {2}Keysign: trusted: certified by master [0-9A-F]{40} on \d{4}-\d{2}-\d{2}; all 7 listed files match\n {2}FreePBX: 129 GOOD\|TRUSTED\n/);
      const help = await runKeysign(["help"], work);
      assert.match(help.stdout, /module verify DIR\.\.\./);
      assert.match(help.stdout, /12 module verify: at least one module is not trusted and intact/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe("the verdict from the status feed", () => {
  it("a revoked certification in the feed is REVOKED with its date and reason; a stale feed is never silently trusted", { skip: noShared }, async () => {
    const keys = (await loadKeys([{ source: "keys", bytes: await readFile(path.join(SHARED, "keys/B53D215A755231A3.key")) }, { source: "master", bytes: await readFile(path.join(SHARED, "keys/9F9169F4B33B4659.key")) }, { source: "v2", bytes: await readFile(path.join(SHARED, "keys/1588A7366BD35B34.key")) }])).keys;
    const moduleSig = await readFile(path.join(SHARED, "modules/infoservices/module.sig"));
    const entry = { fingerprint: "456D051E9204C27C37D4811BB53D215A755231A3", keySha256: "0".repeat(64), userIdSha256: "0".repeat(64), certifiedAt: "2026-01-01T00:00:00.000Z", expiresAt: null };
    const feed = (state: "certified" | "revoked", validUntil: string) => ({
      feed: { format: "keysign-status-feed" as const, version: 1 as const, sequence: 3, generatedAt: "2026-01-01T00:00:00.000Z", validUntil, publicationKey: "A".repeat(40), entries: [{ ...entry, state, revokedAt: state === "revoked" ? "2026-02-03T00:00:00.000Z" : null, reason: state === "revoked" ? "malicious_module" : null }] },
      stale: Date.parse(validUntil) < Date.now(),
    });
    const hashes = new Map<string, string | null>();
    const judge = async (standing: ReturnType<typeof feed>) => {
      const findings = await checkSignature({ moduleSig, keys, masters: FREEPBX_MASTERS, feed: standing, now: new Date() });
      for (const listed of findings.fields?.hashes.keys() ?? []) hashes.set(listed, findings.fields?.hashes.get(listed) ?? null);
      return judgeModule(findings, hashes, standing);
    };
    const revoked = await judge(feed("revoked", "2999-01-01T00:00:00.000Z"));
    assert.equal(revoked.verdict, "revoked");
    assert.match(revoked.reason, /revoked the certification of key 456D051E9204C27C37D4811BB53D215A755231A3 on 2026-02-03 \(malicious module\)/);
    assert.equal(revoked.status, BITS.GOOD | BITS.TRUSTED, "FreePBX's own bits do not know the feed");
    const stale = await judge(feed("certified", "2026-01-03T00:00:00.000Z"));
    assert.equal(stale.verdict, "stale");
    assert.match(stale.reason, /^revocation status stale since 2026-01-03T00:00:00\.000Z/);
    assert.equal((await judge(feed("certified", "2999-01-01T00:00:00.000Z"))).verdict, "trusted");
  });
});
