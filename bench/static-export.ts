/**
 * The static export of many certified keys (default 10,000; `npm run bench -- export N`):
 * keys generated with node:crypto and written straight to the database (one applicant, one
 * master), then one `exportStatic` timed as `keysign publish export` runs it. Goal: ≤ 10 s.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportSourcesOf } from "../src/plugins/app/publish-dir.ts";
import { exportStatic, gatherStaticTree } from "../src/services/static-export.ts";
import { createTestApp, type TestApp } from "../test/helpers/app.ts";
import { makeCertifiedKey, makeSigningKey } from "./generated-keys.ts";

const DEFAULT_KEYS = 10_000;
const GOAL_SECONDS = 10;
const CHUNK = 500;

export async function seed(t: TestApp, count: number): Promise<number> {
  const db = t.app.db;
  const master = makeSigningKey(new Date("2025-12-01T00:00:00Z"));
  const applicantId = randomUUID();
  await db.applicant.create({ data: { id: applicantId, email: "bench@example.org" } });
  const started = performance.now();
  for (let from = 0; from < count; from += CHUNK) {
    const keys = Array.from({ length: Math.min(CHUNK, count - from) }, (_, i) => makeCertifiedKey(master, `Dev ${from + i} <dev${from + i}@example.org>`, new Date(Date.UTC(2026, 0, 1, 0, 0, from + i))));
    const requests = keys.map((key, i) => ({ id: randomUUID(), key, consented: (from + i) % 2 === 0 }));
    await db.request.createMany({
      data: requests.map(({ id, key, consented }) => ({
        id, applicantId, state: "certified", licence: "GPL-3.0-or-later", projectUrls: "[]", attestOpenSource: true, attestNotCommercial: true, attestAgreement: true,
        // Every other owner agreed to list their address.
        publishedUserIds: consented ? JSON.stringify([key.userId]) : "[]",
      })),
    });
    await db.requestKey.createMany({
      data: requests.map(({ id, key }) => ({
        id: randomUUID(), requestId: id, revision: 1, fingerprint: key.fingerprint, canonicalKey: Buffer.from(key.canonicalKey), canonicalSha256: "0".repeat(64),
        algorithm: "Ed25519", keyCreatedAt: key.createdAt, facts: "{}", certifyUserIds: JSON.stringify([key.userId]),
      })),
    });
    await db.certification.createMany({
      data: requests.map(({ id, key }) => ({ id: randomUUID(), requestId: id, batchNumber: 1, userId: key.userId, signature: Buffer.from(key.certification), certifiedAt: new Date(key.createdAt.getTime() + 60_000) })),
    });
  }
  return (performance.now() - started) / 1000;
}

export async function runStaticExport(args: string[]): Promise<void> {
  const count = Number(args[0] ?? DEFAULT_KEYS) || DEFAULT_KEYS;
  console.log(`\n## Static export of ${count} certified keys`);
  const t = await createTestApp({}, new Date("2026-11-30T12:00:00Z"));
  const workDir = await mkdtemp(path.join(tmpdir(), "keysign-bench-export-"));
  try {
    const seeded = await seed(t, count);
    const sources = exportSourcesOf(t.app);
    const dir = path.join(workDir, "current");
    // First as `keysign publish export` runs it (nothing derived yet), then again as PUBLISH_DIR
    // does after a change (every key's derived facts kept, the previous version removed).
    let started = performance.now();
    const first = await exportStatic(sources, dir);
    const cold = (performance.now() - started) / 1000;
    started = performance.now();
    const tree = await gatherStaticTree(sources);
    const gathered = (performance.now() - started) / 1000;
    started = performance.now();
    await exportStatic(sources, dir);
    await exportStatic(sources, dir);
    const warm = (performance.now() - started) / 2 / 1000;
    const distinct = new Set(tree.values());
    const bytes = [...distinct].reduce((sum, file) => sum + file.length, 0);
    const verdict = (seconds: number) => `${seconds.toFixed(2)} (${seconds <= GOAL_SECONDS ? "goal met" : "goal NOT met"})`;
    console.log("| keys | files (names) | distinct contents | MiB | first export s | export after a change s | of which gathering s |");
    console.log("|---|---|---|---|---|---|---|");
    console.log(`| ${count} | ${first.files} | ${distinct.size} | ${(bytes / 2 ** 20).toFixed(1)} | ${verdict(cold)} | ${verdict(warm)} | ${gathered.toFixed(2)} |`);
    console.log(`\nGoal: ≤ ${GOAL_SECONDS} s. Generating and inserting the keys took ${seeded.toFixed(1)} s, not counted.`);
  } finally {
    await t.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
