import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { readKey, type PublicKey } from "openpgp";
import { keysignInit } from "../../src/cli/keysign-init.ts";
import { openEnvelope } from "../../src/core/transfer/envelope.ts";
import { parseResultPayload, type BatchItem, type ResultPayload } from "../../src/core/transfer/formats.ts";
import { runKeysign, type CliRun } from "../helpers/cli.ts";
import { colonRecords, withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { assertPortalAccepts, certifyItem, makeBatchFile, makeQueueKey, ORGANISATION, revocationReason, revokeItem, type BatchFile, type SigningKey } from "../helpers/transfer.ts";
import type { VerifiedOutcome } from "../../src/core/transfer/result-check.ts";
import { runInProcess, runWithInput } from "./signer-cli.ts";

const PASSPHRASE = "gpg master passphrase 42";
const ALICE = "Alice Example <alice@example.org>";
const ALICE_WORK = "Alice Work <alice@work.example>";

let gpg: GpgHome;
let release: () => void;
let finished: Promise<void>;
let dir: string;
let home: string;
let queue: SigningKey;
let alice: TestKey;
let masterFingerprint: string;
let masterKey: PublicKey;
let files: { queue: string; passphrase: string; wrongPassphrase: string };
let counter = 0;

const keysign = (args: string[], env: Record<string, string> = {}) => runKeysign(args, dir, env);

async function generate(userId: string, usage: string): Promise<string> {
  await gpg.ok(["--passphrase-file", files.passphrase, "--quick-gen-key", userId, "ed25519", usage, "never"]);
  const records = colonRecords(await gpg.ok(["--with-colons", "--list-keys", userId]));
  const fingerprint = records.find((record) => record[0] === "fpr")?.[9];
  if (!fingerprint) throw new Error(`no fingerprint for ${userId}`);
  return fingerprint;
}

const batches = new Map<string, BatchFile>();

async function writeBatch(items: BatchItem[]): Promise<string> {
  counter += 1;
  const batch = await makeBatchFile({ queueKey: queue, master: masterFingerprint, items, batch: counter });
  const file = path.join(dir, `batch-${counter}.json`);
  await writeFile(file, batch.file);
  batches.set(file, batch);
  return file;
}

/** The portal's whole-result check on the result `keysign sign` wrote beside `batchPath`. */
async function portalAccepts(batchPath: string): Promise<VerifiedOutcome[]> {
  const bytes = new Uint8Array(await readFile(batchPath.replace(/\.json$/, ".result.json")));
  return assertPortalAccepts(bytes, batches.get(batchPath)!, masterKey);
}

async function readResult(batchPath: string): Promise<ResultPayload> {
  const bytes = new Uint8Array(await readFile(batchPath.replace(/\.json$/, ".result.json")));
  return parseResultPayload((await openEnvelope(bytes, "result", masterKey, "master key")).payload);
}

function assertNoPassphrase(run: CliRun): void {
  assert.ok(!run.stdout.includes(PASSPHRASE) && !run.stderr.includes(PASSPHRASE), "the passphrase must never be printed");
}

before(async () => {
  await new Promise<void>((ready, fail) => {
    finished = withGpgHome(async (home) => {
      gpg = home;
      ready();
      await new Promise<void>((resolve) => (release = resolve));
    }).catch(fail);
  });
  dir = await mkdtemp(path.join(tmpdir(), "keysign-gpg-cli-"));
  home = path.join(dir, "home");
  [queue, alice] = await Promise.all([
    makeQueueKey(),
    makeTestKey([
      { name: "Alice Example", email: "alice@example.org" },
      { name: "Alice Work", email: "alice@work.example" },
    ]),
  ]);
  files = { queue: path.join(dir, "queue.asc"), passphrase: path.join(dir, "passphrase"), wrongPassphrase: path.join(dir, "wrong") };
  await Promise.all([writeFile(files.queue, queue.publicArmored), writeFile(files.passphrase, `${PASSPHRASE}\n`), writeFile(files.wrongPassphrase, "wrong\n")]);
  // "sign" makes GnuPG's usual primary key: certify and sign.
  masterFingerprint = await generate("Master <master@example.org>", "sign");
  masterKey = await readKey({ binaryKey: new Uint8Array(await gpg.ok(["--export", masterFingerprint])) });
});

after(async () => {
  release();
  await finished;
  await rm(dir, { recursive: true, force: true });
});

describe("keysign with the GnuPG backend", () => {
  it("refuses a certify-only master at init: it cannot sign result files (exit 9)", async () => {
    const certOnly = await generate("Cert Only <cert-only@example.org>", "cert");
    const run = await runInProcess(keysignInit, ["--queue-key", files.queue, "--gpg", "--master", certOnly, "--gpg-home", gpg.dir, "--home", path.join(dir, "refused")]);
    assert.equal(run.code, 9);
    assert.match(run.stderr, /cannot sign result files/);
  });

  it("refuses a master GnuPG does not have (exit 9)", async () => {
    const run = await runInProcess(keysignInit, ["--queue-key", files.queue, "--gpg", "--master", "D".repeat(40), "--gpg-home", gpg.dir, "--home", path.join(dir, "refused")]);
    assert.equal(run.code, 9);
    assert.match(run.stderr, /has no key DDDD/);
  });

  it("pins a master from $GNUPGHOME", async () => {
    const run = await keysign(["init", "--queue-key", files.queue, "--gpg", "--master", masterFingerprint, "--home", home], { GNUPGHOME: gpg.dir });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /\(GnuPG\)/);
  });

  it("certifies and seals revocations through gpg; the portal's checks pass", async () => {
    const item = await certifyItem(alice, [ALICE, ALICE_WORK], { notations: [{ name: "request@portal.example", value: "r-100%k" }] });
    const batch = await writeBatch([item]);
    const run = await keysign(["sign", batch, "--yes", "--passphrase-file", files.passphrase, "--home", home], { GNUPGHOME: gpg.dir });
    assert.equal(run.code, 0, run.stderr);
    assertNoPassphrase(run);
    const [outcome] = await portalAccepts(batch);
    assert.equal(outcome?.kind, "certified");
    for (const entry of outcome.kind === "certified" ? outcome.userIds : []) {
      assert.deepEqual(revocationReason(entry.revocation), [0, `Certification withdrawn by ${ORGANISATION}; the reason and date are at ${item.statusUrl}`]);
    }
    const listed = colonRecords(await gpg.ok(["--with-colons", "--list-keys"])).filter((record) => record[0] === "pub");
    assert.equal(listed.length, 2, "nothing was added to the officer's keyring");
  });

  it("revokes certifications through gpg with the item's reason", async () => {
    const certify = await certifyItem(alice, [ALICE]);
    const first = await writeBatch([certify]);
    assert.equal((await keysign(["sign", first, "--yes", "--passphrase-file", files.passphrase, "--home", home], { GNUPGHOME: gpg.dir })).code, 0);
    const certified = (await readResult(first)).items[0];
    const certifications = certified?.status === "certified" ? certified.userIds.map((entry) => entry.certification) : [];
    const revoke = await revokeItem(alice, [ALICE], certifications, { reason: { code: "withdrawn", text: "withdrawn by the developer" } });
    const second = await writeBatch([revoke]);
    const run = await keysign(["sign", second, "--yes", "--passphrase-file", files.passphrase, "--home", home], { GNUPGHOME: gpg.dir });
    assert.equal(run.code, 0, run.stderr);
    const [outcome] = await portalAccepts(second);
    assert.equal(outcome?.kind, "revoked");
    const [revoked] = outcome.kind === "revoked" ? outcome.revocations : [];
    assert.deepEqual(revocationReason(revoked!.revocation), [0, `Certification withdrawn by ${ORGANISATION}: withdrawn: withdrawn by the developer. Details: ${revoke.statusUrl}`]);
  });

  it("refuses a wrong passphrase with a clear message (exit 9) and writes nothing", async () => {
    // The agent still caches the right passphrase from the earlier tests; forget it.
    assert.equal(spawnSync("gpgconf", ["--homedir", gpg.dir, "--reload", "gpg-agent"]).status, 0);
    const batch = await writeBatch([await certifyItem(alice, [ALICE])]);
    // The officer would answer "y"; the passphrase is refused before the item is even shown.
    const run = await runWithInput(["sign", batch, "--passphrase-file", files.wrongPassphrase, "--home", home, "--gpg-home", gpg.dir], { DATA_DIR: dir }, "y\n");
    assert.equal(run.code, 9, run.stderr);
    assert.match(run.stderr, /GnuPG could not unlock the master key: the passphrase is wrong/);
    assert.doesNotMatch(run.stdout, /\[1\/1\] certify|Sign item/, "no item is reviewed before the master key is unlocked");
    assert.equal(existsSync(batch.replace(/\.json$/, ".result.json")), false);
  });
});
