import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { formatFingerprint } from "../../src/core/key-policy.ts";
import { sha256Lines } from "../../src/core/sha256-display.ts";
import { openEnvelope } from "../../src/core/transfer/envelope.ts";
import { parseEnvelope, parseResultPayload, type BatchItem, type ResultPayload } from "../../src/core/transfer/formats.ts";
import { runKeysign, type CliRun } from "../helpers/cli.ts";
import { makeTestKey, type TestKey } from "../helpers/keys.ts";
import { assertPortalAccepts, certifyItem, makeBatchFile, makeMasterKey, makeQueueKey, makeSignOnlyKey, type BatchFile, type BatchFileOptions, type SigningKey } from "../helpers/transfer.ts";
import { keysignInit } from "../../src/cli/keysign-init.ts";
import { keysignInspect } from "../../src/cli/keysign-inspect.ts";
import { keysignSign } from "../../src/cli/keysign-sign.ts";
import { HAS_SCRIPT, runAtTerminal, runInProcess, runWithInput } from "./signer-cli.ts";

const PASSPHRASE = "tr0ub4dor&3 staple";
const BOB = "Bob Example <bob@example.org>";
const HOUR = 3_600_000;

let dir: string;
let home: string;
let queue: SigningKey;
let master: SigningKey;
let bob: TestKey;
let files: Record<"queue" | "queueSecret" | "master" | "signOnly" | "passphrase" | "wrongPassphrase", string>;
let counter = 0;

/** Spawns the real command. */
const keysign = (args: string[], env: Record<string, string> = {}) => runKeysign(args, dir, env);
/** The same commands in-process, for refusals (see runInProcess). */
const init = (args: string[], env?: Record<string, string>) => runInProcess(keysignInit, args, env);
const inspect = (args: string[]) => runInProcess(keysignInspect, args);
const sign = (args: string[]) => runInProcess(keysignSign, args);

function assertNoPassphrase(run: CliRun): void {
  assert.ok(!run.stdout.includes(PASSPHRASE) && !run.stderr.includes(PASSPHRASE), "the passphrase must never be printed");
}

async function writeBatch(items: BatchItem[], options: Partial<BatchFileOptions> = {}): Promise<BatchFile & { path: string }> {
  counter += 1;
  const batch = await makeBatchFile({ queueKey: queue, master: master.fingerprint, items, batch: counter, ...options });
  const file = path.join(dir, `batch-${counter}.json`);
  await writeFile(file, batch.file);
  return { ...batch, path: file };
}

function resultPath(batchPath: string): string {
  return batchPath.replace(/\.json$/, ".result.json");
}

async function readResult(file: string): Promise<ResultPayload> {
  const opened = await openEnvelope(new Uint8Array(await readFile(file)), "result", master.publicKey, "master key");
  return parseResultPayload(opened.payload);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "keysign-signer-"));
  home = path.join(dir, "home");
  [queue, master, bob] = await Promise.all([makeQueueKey(), makeMasterKey({ passphrase: PASSPHRASE }), makeTestKey([{ name: "Bob Example", email: "bob@example.org" }])]);
  const signOnly = await makeSignOnlyKey(PASSPHRASE);
  const contents = {
    queue: queue.publicArmored,
    queueSecret: queue.secretArmored,
    master: master.secretArmored,
    signOnly: signOnly.secretArmored,
    passphrase: `${PASSPHRASE}\n`,
    wrongPassphrase: "not the passphrase\n",
  };
  files = Object.fromEntries(Object.keys(contents).map((name) => [name, path.join(dir, `${name}.txt`)])) as typeof files;
  await Promise.all(Object.entries(contents).map(([name, text]) => writeFile(files[name as keyof typeof files], text)));
  const run = await init(["--queue-key", files.queue, "--master-key", files.master], { KEYSIGN_HOME: home });
  assert.equal(run.code, 0, run.stderr);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keysign init", () => {
  it("pins both keys in a private home and prints their fingerprints in groups of four", async () => {
    const fresh = path.join(dir, "fresh-home");
    const run = await keysign(["init", "--queue-key", files.queue, "--master-key", files.master, "--home", fresh]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.includes(formatFingerprint(queue.fingerprint)));
    assert.ok(run.stdout.includes(formatFingerprint(master.fingerprint)));
    assert.equal((await stat(fresh)).mode & 0o777, 0o700);
    const pins = path.join(fresh, "pins.json");
    assert.equal((await stat(pins)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(pins, "utf8")) as { queueKey: { fingerprint: string }; master: { fingerprint: string; backend: string; secretKeyFile: string } };
    assert.equal(saved.queueKey.fingerprint, queue.fingerprint);
    assert.deepEqual([saved.master.fingerprint, saved.master.backend, saved.master.secretKeyFile], [master.fingerprint, "software", files.master]);
    assert.ok(!(await readFile(pins, "utf8")).includes("PRIVATE KEY"), "no secret key material in the pins");
  });

  it("refuses a secret queue key (exit 6) and pins nothing", async () => {
    const fresh = path.join(dir, "secret-queue-home");
    const run = await init(["--queue-key", files.queueSecret, "--master-key", files.master, "--home", fresh]);
    assert.equal(run.code, 6);
    assert.match(run.stderr, /queue key was refused: it holds secret key material/);
    assert.equal(existsSync(path.join(fresh, "pins.json")), false);
  });

  it("refuses a master key that cannot certify (exit 9)", async () => {
    const fresh = path.join(dir, "sign-only-home");
    const run = await init(["--queue-key", files.queue, "--master-key", files.signOnly, "--home", fresh]);
    assert.equal(run.code, 9);
    assert.match(run.stderr, /cannot certify/);
    assert.equal(existsSync(path.join(fresh, "pins.json")), false);
  });

  it("refuses to replace existing pins without --force (exit 4)", async () => {
    const run = await init(["--queue-key", files.queue, "--master-key", files.master], { KEYSIGN_HOME: home });
    assert.equal(run.code, 4);
    assert.match(run.stderr, /already holds pins .* use --force/);
  });

  it("answers wrong usage with exit 2", async () => {
    const run = await init(["--queue-key", files.queue, "--home", path.join(dir, "unused")]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /either --master-key FILE or --gpg --master FINGERPRINT/);
  });
});

describe("keysign inspect", () => {
  it("shows a batch, its SHA-256 and a good signature", async () => {
    const item = await certifyItem(bob, [BOB]);
    const batch = await writeBatch([item]);
    const run = await keysign(["inspect", batch.path, "--home", home]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    // Two lines of four groups of eight, as the portal's batch page shows them.
    const [first, second] = sha256Lines(batch.sha256);
    assert.ok(run.stdout.includes(`SHA-256     ${first}\n            ${second}\n`), run.stdout);
    assert.match(run.stdout, /Signature {3}good: by the pinned queue key/);
    assert.ok(run.stdout.includes(formatFingerprint(item.fingerprint)));
    assert.ok(run.stdout.includes(BOB));
    assert.match(run.stdout, /reviewer@portal\.example at 2026-01-02T10:00:00\.000Z/);
    assert.match(run.stdout, /valid 365 days/);
    assert.match(run.stdout, /Check {7}OK/);
  });

  it("shows a batch without pins marked NOT CHECKED, with exit 8", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const run = await inspect([batch.path, "--home", path.join(dir, "no-pins")]);
    assert.equal(run.code, 8);
    assert.match(run.stdout, /NOT CHECKED/);
    assert.ok(run.stdout.includes(BOB));
  });

  it("refuses a tampered batch (exit 6) and does not show its contents", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const tampered = path.join(dir, "tampered.json");
    await writeFile(tampered, flipPayloadByte(await readFile(batch.path)));
    const run = await inspect([tampered, "--home", home]);
    assert.equal(run.code, 6);
    assert.match(run.stdout, /Signature {3}REFUSED: .*changed after it was signed/);
    assert.ok(!run.stdout.includes(BOB));
  });
});

/** One byte of the signed payload changed; the envelope stays well-formed JSON. */
function flipPayloadByte(file: Uint8Array): Uint8Array {
  const envelope = parseEnvelope(file);
  const payload = Buffer.from(envelope.payload, "base64");
  payload[30] = (payload[30] ?? 0) ^ 0x01;
  return new TextEncoder().encode(`${JSON.stringify({ ...envelope, payload: payload.toString("base64") }, null, 1)}\n`);
}

describe("keysign sign", () => {
  it("signs every item with --yes and --passphrase-file; the result passes the portal's checks", async () => {
    const items = await Promise.all(Array.from({ length: 6 }, () => certifyItem(bob, [BOB])));
    const batch = await writeBatch(items);
    const run = await keysign(["sign", batch.path, "--yes", "--passphrase-file", files.passphrase, "--home", home]);
    assert.equal(run.code, 0, run.stderr);
    assertNoPassphrase(run);
    assert.match(run.stderr, /made 12 signatures/);
    assert.match(run.stdout, /6 certified, 0 revoked, 0 declined/);
    const result = await readResult(resultPath(batch.path));
    assert.equal(result.batchSha256, batch.sha256);
    assert.deepEqual(result.items.map((entry) => entry.id), items.map((item) => item.id));
    assert.ok(result.items.every((entry) => entry.status === "certified"));
    await assertPortalAccepts(new Uint8Array(await readFile(resultPath(batch.path))), batch, master.publicKey);
    const inspected = await inspect([resultPath(batch.path), "--home", home]);
    assert.equal(inspected.code, 0, inspected.stdout);
    assert.match(inspected.stdout, /Signature {3}good: by the pinned master key/);
    assert.match(inspected.stdout, /6 certified, 0 revoked, 0 declined/);
  });

  it("refuses a batch changed by one byte (exit 6) and writes nothing", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    await writeFile(batch.path, flipPayloadByte(await readFile(batch.path)));
    const run = await sign([batch.path, "--yes", "--passphrase-file", files.passphrase, "--home", home]);
    assert.equal(run.code, 6);
    assert.match(run.stderr, /changed after it was signed/);
    assert.equal(existsSync(resultPath(batch.path)), false);
  });

  it("refuses an expired batch (exit 6)", async () => {
    const createdAt = new Date(Date.now() - 10 * 24 * HOUR);
    const batch = await writeBatch([await certifyItem(bob, [BOB])], { createdAt, expiresAt: new Date(createdAt.getTime() + HOUR) });
    const run = await sign([batch.path, "--yes", "--passphrase-file", files.passphrase, "--home", home]);
    assert.equal(run.code, 6);
    assert.match(run.stderr, /expired at/);
    assert.equal(existsSync(resultPath(batch.path)), false);
  });

  it("refuses a batch for another master than the pinned one (exit 6)", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])], { master: "C".repeat(40) });
    const run = await sign([batch.path, "--yes", "--passphrase-file", files.passphrase, "--home", home]);
    assert.equal(run.code, 6);
    assert.match(run.stderr, /is for master key CCCC .* pinned to/);
  });

  it("refuses a wrong passphrase with a clear message (exit 9) and writes nothing", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const run = await sign([batch.path, "--yes", "--passphrase-file", files.wrongPassphrase, "--home", home]);
    assert.equal(run.code, 9);
    assert.match(run.stderr, /passphrase is wrong/);
    assert.ok(!run.stderr.includes("not the passphrase"));
    assert.equal(existsSync(resultPath(batch.path)), false);
  });

  it("takes the officer's answers from stdin: y signs, n declines with a typed or the default reason", async () => {
    const items = [await certifyItem(bob, [BOB]), await certifyItem(bob, [BOB]), await certifyItem(bob, [BOB])];
    const batch = await writeBatch(items);
    const run = await runWithInput(["sign", batch.path, "--passphrase-file", files.passphrase, "--home", home], {}, "y\nperhaps\nn\nagreement unreadable\nn\n\n");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /Please answer y or n/);
    const result = await readResult(resultPath(batch.path));
    assert.deepEqual(
      result.items.map((entry) => (entry.status === "declined" ? entry.reason : entry.status)),
      ["certified", "agreement unreadable", "declined by the signing officer"],
    );
  });

  it("writes the result but exits 7 when every item is declined", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const run = await runWithInput(["sign", batch.path, "--passphrase-file", files.passphrase, "--home", home], {}, "n\n\n");
    assert.equal(run.code, 7, run.stderr);
    assert.equal((await readResult(resultPath(batch.path))).items[0]?.status, "declined");
  });

  it("stops with exit 10 and writes nothing when the answers run out", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB]), await certifyItem(bob, [BOB])]);
    const run = await runWithInput(["sign", batch.path, "--passphrase-file", files.passphrase, "--home", home], {}, "y\n");
    assert.equal(run.code, 10);
    assert.match(run.stderr, /input ended/);
    assert.equal(existsSync(resultPath(batch.path)), false);
  });

  it("refuses to replace an existing result without --force (exit 4)", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    await writeFile(resultPath(batch.path), "earlier");
    const run = await sign([batch.path, "--yes", "--passphrase-file", files.passphrase, "--home", home]);
    assert.equal(run.code, 4);
    assert.equal(await readFile(resultPath(batch.path), "utf8"), "earlier");
  });

  it("needs pins (exit 8) and a passphrase source (exit 2)", async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const noPins = await sign([batch.path, "--yes", "--home", path.join(dir, "no-pins")]);
    assert.equal(noPins.code, 8);
    assert.match(noPins.stderr, /run "keysign init" first/);
    const noPassphrase = await sign([batch.path, "--yes", "--home", home]);
    assert.equal(noPassphrase.code, 2);
    assert.match(noPassphrase.stderr, /no terminal to ask on; use --passphrase-file FILE/);
  });

  it("asks for the passphrase at a terminal with echo off", { skip: !HAS_SCRIPT && "util-linux script is not installed" }, async () => {
    const batch = await writeBatch([await certifyItem(bob, [BOB])]);
    const run = await runAtTerminal(["sign", batch.path, "--home", home], {}, [
      { prompt: /Passphrase for the master key [0-9A-F]{16}: /, type: PASSPHRASE },
      { prompt: /Sign item 1\/1\? \[y\/n\] /, type: "y" },
    ]);
    assert.equal(run.code, 0, run.stdout);
    assertNoPassphrase(run);
    assert.match(run.stdout, /1 certified, 0 revoked, 0 declined/);
  });
});
