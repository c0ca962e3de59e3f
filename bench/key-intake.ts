/**
 * Key intake (parse, policy, canonicalise, proof of possession) for a typical Ed25519 key
 * and an RSA-4096 key, and the time to reject a key flooded with third-party signatures
 * to just under the 1 MiB upload limit.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import * as openpgp from "openpgp";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey, verifyPossession } from "../src/core/key-policy.ts";
import { concatBytes, scanPackets, TAG, writePacket } from "../src/core/key-policy/packets.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../test/fixtures");
const POLICY = { ...DEFAULT_KEY_POLICY, now: new Date("2026-01-01T00:00:00Z") };
const RUNS = 30;

async function fixture(name: string): Promise<Buffer> {
  return readFile(path.join(FIXTURES, name));
}

/** The whole intake a submission goes through. */
async function intake(upload: Uint8Array, pdf: Uint8Array, signature: Uint8Array): Promise<void> {
  const inspected = await inspectKey(upload, POLICY);
  if (!inspected.ok) throw new Error(`fixture refused: ${inspected.problems[0]?.code}`);
  const userId = inspected.facts.userIds[0]?.userId ?? "";
  await canonicalizeKey(inspected.minimal, [userId], POLICY);
  const possession = await verifyPossession(inspected.minimal, pdf, signature, POLICY);
  if (!possession.ok) throw new Error(`possession failed: ${possession.problem.code}`);
}

async function medianMs(run: () => Promise<void>, runs = RUNS): Promise<{ median: number; p90: number }> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await run();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)] ?? 0, p90: times[Math.floor(times.length * 0.9)] ?? 0 };
}

async function signWith(secretFixture: string, data: Uint8Array): Promise<Uint8Array> {
  const key = await openpgp.readPrivateKey({ armoredKey: (await fixture(secretFixture)).toString("utf8") });
  const message = await openpgp.createMessage({ binary: data });
  return openpgp.sign({ message, signingKeys: key, detached: true, format: "binary", date: new Date("2025-06-01T00:00:00Z") });
}

/** The good key with its user ID followed by third-party certifications repeated up to `targetBytes`. */
async function floodedKey(targetBytes: number): Promise<Uint8Array> {
  const flooded = await openpgp.unarmor((await fixture("keys/flooded-250.asc")).toString("utf8"));
  const scan = scanPackets(flooded.data);
  const signatures = scan.packets.filter((p) => p.tag === TAG.signature).map((p) => writePacket(p.tag, p.body));
  const head = scan.packets.slice(0, 3).map((p) => writePacket(p.tag, p.body));
  const parts = [...head];
  let size = head.reduce((n, p) => n + p.length, 0);
  for (let i = 0; size < targetBytes; i++) {
    const next = signatures[i % signatures.length] ?? new Uint8Array();
    if (size + next.length > targetBytes) break;
    parts.push(next);
    size += next.length;
  }
  return concatBytes(parts);
}

export async function runKeyIntake(): Promise<void> {
  const pdf = await fixture("files/agreement.pdf");
  const edKey = await fixture("keys/ed25519-good.asc");
  const edSignature = await fixture("files/agreement.pdf.asc");
  const rsaKey = await fixture("keys/rsa4096.asc");
  const rsaSignature = await signWith("keys/rsa4096-secret.asc", pdf);
  console.log(`\n## Key intake (inspect + canonicalise + proof of possession), ${RUNS} runs each`);
  const ed = await medianMs(() => intake(edKey, pdf, edSignature));
  const rsa = await medianMs(() => intake(rsaKey, pdf, rsaSignature));
  console.log("| key | median ms | p90 ms |");
  console.log("|---|---|---|");
  console.log(`| Ed25519 (GnuPG, 2 user IDs, 2 subkeys) | ${ed.median.toFixed(1)} | ${ed.p90.toFixed(1)} |`);
  console.log(`| RSA-4096 (GnuPG, encryption subkey) | ${rsa.median.toFixed(1)} | ${rsa.p90.toFixed(1)} |`);

  const flood = await floodedKey(1024 * 1024 - 1024);
  const rejected = await inspectKey(flood, POLICY);
  const code = rejected.ok ? "accepted (!)" : rejected.problems[0]?.code;
  const floodTime = await medianMs(async () => void (await inspectKey(flood, POLICY)), 10);
  console.log(`\n## Flooded key: ${(flood.length / 1024).toFixed(0)} KiB of third-party certifications`);
  console.log(`outcome: ${code}; median ${floodTime.median.toFixed(1)} ms, p90 ${floodTime.p90.toFixed(1)} ms (target < 1000 ms)`);
}

