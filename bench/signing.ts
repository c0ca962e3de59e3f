/**
 * The signing ceremony at scale: a batch of N certify items (default 1,000) signed by the
 * software signer with an Ed25519 and with an RSA-4096 master key, each result imported into a
 * real portal database, beside a loop of `gpg --quick-sign-key` certifying the same keys in one
 * GnuPG home. Prints items per second and the ratio to GnuPG.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import * as openpgp from "openpgp";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey } from "../src/core/key-policy.ts";
import { openBatch, signBatch } from "../src/core/transfer/sign-batch.ts";
import { openSoftwareSigner } from "../src/core/transfer/software-signer.ts";
import { deployMigrations } from "../src/db/migrations.ts";

const COUNT = Number(process.argv[3] ?? 1000);
const FIXTURES = path.resolve(import.meta.dirname, "../test/fixtures/keys");

interface Target {
  binary: Uint8Array;
  sha256: string;
  fingerprint: string;
  userId: string;
}

async function makeTargets(count: number): Promise<Target[]> {
  const now = new Date();
  const policy = { ...DEFAULT_KEY_POLICY, now };
  const targets: Target[] = [];
  for (let i = 0; i < count; i++) {
    const email = `dev${i}@bench.example`;
    const { publicKey } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name: `Dev ${i}`, email }], date: new Date(now.getTime() - 86_400_000), format: "binary" });
    const inspected = await inspectKey(publicKey, policy);
    if (!inspected.ok) throw new Error("bench key refused");
    const userId = `Dev ${i} <${email}>`;
    const canonical = await canonicalizeKey(inspected.minimal, [userId], policy);
    targets.push({ binary: canonical.binary, sha256: canonical.sha256, fingerprint: canonical.fingerprint, userId });
  }
  return targets;
}

/** A portal on a fresh database whose queue holds one approved request per target. */
async function portalWithQueue(targets: Target[], master: openpgp.PublicKey) {
  const dataDir = await mkdtemp(path.join(tmpdir(), "keysign-bench-"));
  // A public address and the export settings, as a portal that signs for real has.
  const config = loadConfig({ LOG_LEVEL: "silent", MAIL_WORKER: "false", AUTO_MIGRATE: "false", DATA_DIR: dataDir, PUBLIC_URL: "https://keysign.bench.example" });
  await deployMigrations(config.databaseUrl);
  const app = await buildApp({ config });
  const db = app.db;
  const staff = ["a", "b"].map((name) => ({ id: randomUUID(), email: `${name}@bench.example`, passwordHash: "x", roles: "reviewer,signing_officer" }));
  await db.staff.createMany({ data: staff });
  await db.setting.createMany({
    data: [
      { key: "masterPublicKey", value: master.armor() },
      { key: "masterFingerprint", value: master.getFingerprint().toUpperCase() },
      { key: "organisationName", value: "Bench Org" },
      { key: "certificationDomain", value: "keys.bench.example" },
    ],
  });
  for (const target of targets) {
    const email = target.userId.replace(/.*<|>/g, "");
    const applicantId = randomUUID();
    const requestId = randomUUID();
    await db.applicant.create({ data: { id: applicantId, email, addresses: { create: { id: randomUUID(), address: email, confirmedAt: new Date() } } } });
    await db.request.create({
      data: {
        id: requestId, applicantId, state: "queued", licence: "GPL-3.0-or-later", projectUrls: "[]", attestOpenSource: true, attestNotCommercial: true, attestAgreement: true,
        keys: { create: { id: randomUUID(), revision: 1, fingerprint: target.fingerprint, canonicalKey: new Uint8Array(target.binary), canonicalSha256: target.sha256, algorithm: "Ed25519", keyCreatedAt: new Date(), facts: "{}", certifyUserIds: JSON.stringify([target.userId]) } },
        agreements: { create: { id: randomUUID(), revision: 1, fileName: "agreement.pdf", sha256: "0".repeat(64), size: 1, storageName: randomUUID(), signature: "", signerFingerprint: target.fingerprint } },
        approvals: { create: staff.map((s) => ({ id: randomUUID(), revision: 1, staffId: s.id })) },
      },
    });
  }
  const officer = { id: staff[0]?.id ?? "", email: staff[0]?.email ?? "", ip: "127.0.0.1" };
  return { app, officer, close: async () => { await app.close(); await rm(dataDir, { recursive: true, force: true }); } };
}

async function ceremony(label: string, targets: Target[], armoredSecret: string): Promise<{ label: string; sign: number; importRate: number }> {
  const secret = await openpgp.readPrivateKey({ armoredKey: armoredSecret });
  const portal = await portalWithQueue(targets, secret.toPublic());
  try {
    const exported = await portal.app.signingQueue.exportBatch(portal.officer);
    const batch = await portal.app.db.batch.findUniqueOrThrow({ where: { number: exported.number } });
    const fingerprint = secret.getFingerprint().toUpperCase();
    const signer = await openSoftwareSigner({ armoredSecretKey: armoredSecret, passphrase: null, fingerprint, now: new Date() });
    const start = performance.now();
    const opened = await openBatch(new Uint8Array(batch.file), { queueKey: portal.app.signingQueue.queueKey.publicKey, master: fingerprint }, new Date());
    const signed = await signBatch({ opened, signer, master: secret.toPublic(), decide: async () => ({ approve: true }), now: () => new Date() });
    const signSeconds = (performance.now() - start) / 1000;
    await signer.close();
    const importStart = performance.now();
    const outcome = await portal.app.signingQueue.importResult(signed.file, portal.officer);
    const importSeconds = (performance.now() - importStart) / 1000;
    if (outcome.kind !== "imported" || outcome.certified !== targets.length) throw new Error("bench import did not certify everything");
    return { label, sign: targets.length / signSeconds, importRate: targets.length / importSeconds };
  } finally {
    await portal.close();
  }
}

/** `gpg --quick-sign-key` once per key, in one GnuPG home holding the master and every key. */
async function gpgLoop(targets: Target[]): Promise<number> {
  const home = await mkdtemp(path.join(tmpdir(), "keysign-bench-gpg-"));
  const gpg = (args: string[], input?: Uint8Array) => {
    const run = spawnSync("gpg", ["--homedir", home, "--batch", "--yes", "--no-tty", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "", ...args], { input });
    if (run.status !== 0) throw new Error(`gpg ${args[0] ?? ""} failed: ${run.stderr.toString()}`);
    return run.stdout;
  };
  try {
    gpg(["--quick-gen-key", "Bench Master <master@bench.example>", "ed25519", "cert", "never"]);
    const keyring = path.join(home, "targets.gpg");
    await writeFile(keyring, Buffer.concat(targets.map((t) => Buffer.from(t.binary))));
    gpg(["--import", keyring]);
    const start = performance.now();
    for (const target of targets) {
      gpg(["--trust-model", "always", "--cert-digest-algo", "SHA256", "--default-cert-expire", "730d", "--quick-sign-key", target.fingerprint, target.userId]);
    }
    return targets.length / ((performance.now() - start) / 1000);
  } finally {
    spawnSync("gpgconf", ["--homedir", home, "--kill", "all"]);
    await rm(home, { recursive: true, force: true });
  }
}

export async function runSigning(): Promise<void> {
  console.log(`\n## Signing ceremony: ${COUNT} items\n`);
  const targets = await makeTargets(COUNT);
  const { privateKey: ed25519 } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name: "Bench Master", email: "master@bench.example" }], date: new Date(Date.now() - 86_400_000), format: "armored" });
  const rsa4096 = await readFile(path.join(FIXTURES, "rsa4096-secret.asc"), "utf8");
  const gpgRate = await gpgLoop(targets);
  const rows = [await ceremony("Ed25519 master", targets, ed25519), await ceremony("RSA-4096 master", targets, rsa4096)];
  console.log("| master key | sign (items/s) | × gpg --quick-sign-key loop | import (items/s) |\n|---|---|---|---|");
  for (const row of rows) console.log(`| ${row.label} | ${row.sign.toFixed(1)} | ${(row.sign / gpgRate).toFixed(1)}× | ${row.importRate.toFixed(1)} |`);
  console.log(`| gpg --quick-sign-key loop (Ed25519 master, same keys, one home) | ${gpgRate.toFixed(1)} | 1.0× | |`);
}
