/**
 * The module tools at scale: a generated module of 10,000 files and 200 MB (100 directories of
 * 100 files of 20 KiB) signed with `keysign module sign` and checked with `keysign module
 * verify`, beside `sha256sum` over the same files in the same run, all with the files in the
 * page cache (each is run once before it is timed). Prints throughput and the ratio to sha256sum
 * (goal: verify ≥ 0.8× sha256sum). The data lives in a temporary directory, removed at the end.
 */
import { spawnSync } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import * as openpgp from "openpgp";
import { moduleSign } from "../src/cli/module-sign.ts";
import { moduleVerify } from "../src/cli/module-verify.ts";

const DIRECTORIES = 100;
const FILES_PER_DIRECTORY = 100;
const FILE_BYTES = 20 * 1024;

const quiet = { env: process.env, stdout: { write: () => true }, stderr: { write: () => true } };

async function generate(root: string): Promise<string[]> {
  const files: string[] = [];
  const content = Buffer.alloc(FILE_BYTES);
  for (let d = 0; d < DIRECTORIES; d++) {
    const directory = path.join(root, `dir-${String(d).padStart(3, "0")}`);
    await mkdir(directory, { recursive: true });
    for (let f = 0; f < FILES_PER_DIRECTORY; f++) {
      const file = path.join(directory, `file-${f}.php`);
      await writeFile(file, randomFillSync(content));
      files.push(file);
    }
  }
  return files;
}

function sha256sum(root: string): number {
  const started = performance.now();
  // find | xargs, as an admin would run it over a module's tree.
  const result = spawnSync("sh", ["-c", 'find . -type f ! -name module.sig -print0 | xargs -0 sha256sum > /dev/null'], { cwd: root });
  if (result.status !== 0) throw new Error(`sha256sum failed: ${result.stderr.toString()}`);
  return performance.now() - started;
}

async function timed(run: () => Promise<number>, expected: number): Promise<number> {
  const started = performance.now();
  const code = await run();
  if (code !== expected) throw new Error(`exit code ${code}, expected ${expected}`);
  return performance.now() - started;
}

function row(what: string, ms: number, megabytes: number, reference: number | null): string {
  const throughput = megabytes / (ms / 1000);
  return `| ${what} | ${(ms / 1000).toFixed(2)} s | ${throughput.toFixed(0)} MB/s | ${reference === null ? "1.00×" : `${(throughput / reference).toFixed(2)}×`} |`;
}

export async function runModules(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), "keysign-bench-modules-"));
  try {
    const root = path.join(work, "module");
    const files = await generate(root);
    const megabytes = (files.length * FILE_BYTES) / 1e6;
    const { privateKey, publicKey } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name: "Bench", email: "bench@example.org" }], format: "armored" });
    const fingerprint = (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase();
    await writeFile(path.join(work, "key.asc"), privateKey);
    await writeFile(path.join(work, "key.pub"), publicKey);
    const signArgs = [root, "--key", path.join(work, "key.asc"), "--keyring", path.join(work, "key.pub"), "--master", fingerprint];
    // The bench key is its own master, so the module is trusted and every listed file is hashed.
    const verifyArgs = [root, "--keyring", path.join(work, "key.pub"), "--master", fingerprint];

    sha256sum(root);
    const sumMs = Math.min(sha256sum(root), sha256sum(root));
    await moduleSign(signArgs, quiet);
    const signMs = await timed(() => moduleSign(signArgs, quiet), 0);
    await moduleVerify(verifyArgs, quiet);
    const verifyMs = Math.min(await timed(() => moduleVerify(verifyArgs, quiet), 0), await timed(() => moduleVerify(verifyArgs, quiet), 0));
    const reference = megabytes / (sumMs / 1000);
    console.log(`\n## Module tools: ${files.length} files, ${megabytes.toFixed(0)} MB (files in the page cache)\n`);
    console.log("| run | time | throughput | vs sha256sum |\n|---|---|---|---|");
    console.log(row("sha256sum, the same files", sumMs, megabytes, null));
    console.log(row("keysign module sign", signMs, megabytes, reference));
    console.log(row("keysign module verify", verifyMs, megabytes, reference));
    console.log(`\nverify / sha256sum: ${(sumMs / verifyMs).toFixed(2)}× (goal ≥ 0.8×)`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
