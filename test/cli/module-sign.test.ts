/**
 * `keysign module sign`: what it writes is devtools' format, and an install's GnuPG (master at
 * ultimate ownertrust, developer key certified by it) verifies it with VALIDSIG and TRUST_FULLY
 * while FreePBX's hash check passes (the oracle in test/helpers/module-oracle.ts). Both backends
 * (a key file, GnuPG), the warning for an uncertified key, and each refusal.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it, type TestContext } from "node:test";
import * as openpgp from "openpgp";
import { moduleSign } from "../../src/cli/module-sign.ts";
import { withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { BITS, fingerprintOf, freepbxVerdict, writeModule } from "../helpers/module-oracle.ts";
import { writeSignedFeed } from "../helpers/status-feed.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function sign(args: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await moduleSign(args, { env: { ...process.env, LC_ALL: "C" }, stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } });
  return { code, stdout, stderr };
}

const FILES = {
  "module.xml": "<module><rawname>demo</rawname></module>\n",
  "Backup.php": "<?php\n",
  "assets/js/b.js": "b",
  "assets/js/A.js": "a",
  "assets/less/cache/compiled.css": "made at run time",
  "assets/my file@2x.png": "png",
  ".gitignore": "x",
  "lib/.env": "secret",
  "build/out.js": "generated",
};

interface Setup {
  work: string;
  masters: GpgHome;
  developer: GpgHome;
  install: GpgHome;
  master: string;
  dev: string;
  stranger: string;
  keyring: string;
}

async function setUp(masters: GpgHome, developer: GpgHome, install: GpgHome, work: string): Promise<Setup> {
  await masters.ok(["--passphrase", "", "--quick-gen-key", "Master <master@example.org>", "rsa2048", "sign,cert", "0"]);
  await developer.ok(["--passphrase", "", "--quick-gen-key", "Dev <dev@example.org>", "ed25519", "sign,cert", "0"]);
  await developer.ok(["--passphrase", "", "--quick-gen-key", "Stranger <stranger@example.org>", "ed25519", "sign,cert", "0"]);
  const master = await fingerprintOf(masters, "master@example.org");
  const dev = await fingerprintOf(developer, "dev@example.org");
  const stranger = await fingerprintOf(developer, "stranger@example.org");
  await masters.ok(["--import"], { input: await developer.ok(["--export", dev]) });
  await masters.ok(["--local-user", master, "--quick-sign-key", dev]);
  const keyring = path.join(work, "keyring.gpg");
  await writeFile(keyring, await masters.ok(["--export"]));
  await install.ok(["--import", keyring]);
  await install.ok(["--import-ownertrust"], { input: `${master}:6:\n` });
  return { work, masters, developer, install, master, dev, stranger, keyring };
}

let counter = 0;
async function newModule(s: Setup, files: Record<string, string> = FILES): Promise<string> {
  const directory = path.join(s.work, `module-${(counter += 1)}`);
  await writeModule(directory, files);
  return directory;
}

async function secretKeyFile(s: Setup, fingerprint: string, passphrase = ""): Promise<string> {
  const file = path.join(s.work, `${fingerprint}-${(counter += 1)}.asc`);
  const exported = await s.developer.ok(["--passphrase", "", "--armor", "--export-secret-keys", fingerprint]);
  if (passphrase === "") {
    await writeFile(file, exported);
    return file;
  }
  const key = await openpgp.readPrivateKey({ armoredKey: exported.toString("utf8") });
  await writeFile(file, (await openpgp.encryptKey({ privateKey: key, passphrase })).armor());
  return file;
}

/** The install's GnuPG says VALIDSIG and TRUST_FULLY, and FreePBX's check gives 129. */
async function assertInstallAccepts(t: TestContext, s: Setup, directory: string): Promise<void> {
  const status = (await s.install.run(["--status-fd", "1", "--verify", path.join(directory, "module.sig")])).stdout.toString("utf8");
  assert.match(status, new RegExp(`^\\[GNUPG:\\] VALIDSIG ${s.dev} `, "m"));
  assert.match(status, /^\[GNUPG:\] TRUST_FULLY/m);
  const oracle = await freepbxVerdict(s.install, directory, [s.master.slice(-16)]);
  t.diagnostic(`FreePBX ${oracle.status} ${JSON.stringify(oracle.details)}`);
  assert.deepEqual(oracle, { status: BITS.GOOD | BITS.TRUSTED, details: [] });
}

describe("keysign module sign", () => {
  it("signs as devtools lays it out, and an install trusts the result", { timeout: 300_000 }, async (t) => {
    const work = await mkdtemp(path.join(tmpdir(), "keysign-module-sign-"));
    try {
      await withGpgHome((masters) => withGpgHome((developer) => withGpgHome(async (install) => runCases(t, await setUp(masters, developer, install, work)))));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

async function runCases(t: TestContext, s: Setup): Promise<void> {
  await t.test("with a key file: devtools' format, LF only, SHA-256 or stronger, what it left out said", async (t) => {
    const directory = await newModule(s);
    const run = await sign([directory, "--key", await secretKeyFile(s, s.dev), "--keyring", s.keyring, "--master", s.master, "--exclude", "build/out.js", "--repo", "standard"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "", "a certified key gets no warning");
    assert.match(run.stdout, /Left out: 2 files: names starting with a dot/);
    assert.match(run.stdout, /Left out: 1 file: assets\/less\/cache\/ \(made by FreePBX at run time\)/);
    assert.match(run.stdout, /Left out: 1 file: build\/out\.js \(--exclude\)/);
    const text = await readFile(path.join(directory, "module.sig"), "utf8");
    assert.ok(!text.includes("\r"), "LF line endings only");
    assert.match(text, /^-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA(256|384|512)\n\n;#{48}\n/);
    assert.match(text, new RegExp(`\\[config\\]\\nversion=2\\nhash=sha256\\nsignedwith=${s.dev}\\nsignedby=keysign\\nrepo=standard\\ntype=public\\n\\[hashes\\]\\n`));
    const listed = [...text.matchAll(/^(.+) = [0-9a-f]{64}$/gm)].map((match) => match[1]);
    assert.deepEqual(listed, ["Backup.php", "assets/js/A.js", "assets/js/b.js", "assets/my file@2x.png", "module.xml"]);
    assert.match(text, /\n;# End\n-----BEGIN PGP SIGNATURE-----\n/);
    await assertInstallAccepts(t, s, directory);
  });

  await t.test("with GnuPG (--gpg --local-user), type local", async (t) => {
    const directory = await newModule(s);
    const run = await sign([directory, "--gpg", "--local-user", s.dev, "--gpg-home", s.developer.dir, "--keyring", s.keyring, "--master", s.master, "--type", "local"]);
    assert.equal(run.code, 0, run.stderr);
    const text = await readFile(path.join(directory, "module.sig"), "utf8");
    assert.match(text, /^Hash: SHA256$/m);
    assert.match(text, /^type=local$/m);
    await assertInstallAccepts(t, s, directory);
  });

  await t.test("a passphrase-protected key file, the passphrase from a file", async () => {
    const directory = await newModule(s);
    const keyFile = await secretKeyFile(s, s.dev, "correct horse");
    const passphraseFile = path.join(s.work, "passphrase");
    await writeFile(passphraseFile, "wrong\n");
    const wrong = await sign([directory, "--key", keyFile, "--passphrase-file", passphraseFile]);
    assert.equal(wrong.code, 14);
    assert.match(wrong.stderr, /the passphrase is wrong; nothing was signed/);
    assert.ok(!existsSync(path.join(directory, "module.sig")));
    await writeFile(passphraseFile, "correct horse\n");
    assert.equal((await sign([directory, "--key", keyFile, "--passphrase-file", passphraseFile])).code, 0);
    assert.equal((await sign([directory, "--key", keyFile])).code, 2, "no terminal and no passphrase file: a usage error, never a passphrase on argv");
  });

  await t.test("warns when the key has no master certification: installs would call it signed by an invalid key", async () => {
    const directory = await newModule(s);
    const run = await sign([directory, "--key", await secretKeyFile(s, s.stranger), "--keyring", s.keyring, "--master", s.master]);
    assert.equal(run.code, 0);
    assert.match(run.stderr, new RegExp(`warning: key ${s.stranger} has no valid certification by a master key; installs would show the module as signed by an invalid key`));
  });

  await t.test("with --feed, the portal's word decides the warning: a revoked certification is named", async () => {
    const directory = await newModule(s);
    const revoked = await writeSignedFeed(s.work, [{ fingerprint: s.dev, state: "revoked" }], new Date(Date.now() + 86_400_000));
    const run = await sign([directory, "--key", await secretKeyFile(s, s.dev), "--feed", revoked.file, "--publication-key", revoked.publicationKey]);
    assert.equal(run.code, 0);
    assert.match(run.stderr, new RegExp(`warning: the portal revoked the certification of key ${s.dev} on 2026-02-03; installs will refuse the module`));
    const certified = await writeSignedFeed(s.work, [{ fingerprint: s.dev, state: "certified" }], new Date(Date.now() + 86_400_000));
    const good = await sign([directory, "--key", await secretKeyFile(s, s.dev), "--feed", certified.file, "--publication-key", certified.publicationKey]);
    assert.equal(good.stderr, "");
    assert.match(good.stdout, /Certification checked against the portal's status feed \(sequence 1\)/);
  });

  await t.test("refuses paths a module.sig cannot list, and says how to get past it", async () => {
    const directory = await newModule(s, { ...FILES, "lib/a(1).php": "x" });
    const run = await sign([directory, "--key", await secretKeyFile(s, s.dev)]);
    assert.equal(run.code, 13);
    assert.match(run.stderr, /lib\/a\(1\)\.php: it contains one of/);
    assert.ok(!existsSync(path.join(directory, "module.sig")));
    assert.equal((await sign([directory, "--key", await secretKeyFile(s, s.dev), "--exclude", "lib/a(1).php"])).code, 0);
  });

  await t.test("refuses a tree with a file it cannot read", async () => {
    const directory = await newModule(s);
    await symlink(path.join(s.work, "nowhere"), path.join(directory, "broken.php"));
    const run = await sign([directory, "--key", await secretKeyFile(s, s.dev)]);
    assert.equal(run.code, 13);
    assert.match(run.stderr, /cannot read broken\.php; nothing was signed/);
    assert.ok(!existsSync(path.join(directory, "module.sig")));
  });

  await t.test("wrong usage: no key, both keys, a bad --type", async () => {
    const directory = await newModule(s);
    assert.equal((await sign([directory])).code, 2);
    assert.equal((await sign([directory, "--key", "k", "--gpg", "--local-user", s.dev])).code, 2);
    assert.equal((await sign([directory, "--key", "k", "--type", "private"])).code, 2);
  });
}
