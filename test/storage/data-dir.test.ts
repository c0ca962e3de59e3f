import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { dataPaths, loadOrCreateSecrets, prepareDataDir, sweepStaleTempFiles } from "../../src/storage/data-dir.ts";
import { createTestApp } from "../helpers/app.ts";
import { submitRequest } from "../helpers/requests.ts";

async function freshPaths() {
  const paths = dataPaths(await mkdtemp(path.join(tmpdir(), "keysign-data-")));
  await prepareDataDir(paths);
  return paths;
}

describe("data directory", () => {
  it("generates a session secret once, private to the owner, and keeps it", async () => {
    const paths = await freshPaths();
    try {
      const first = await loadOrCreateSecrets(paths, {});
      assert.match(first.sessionSecret, /^[A-Za-z0-9_-]{43}$/);
      assert.equal((await stat(paths.secrets)).mode & 0o777, 0o600);
      assert.deepEqual(await loadOrCreateSecrets(paths, {}), first);
      assert.equal((await loadOrCreateSecrets(paths, { sessionSecret: "configured" })).sessionSecret, "configured");
      assert.equal(JSON.parse(await readFile(paths.secrets, "utf8")).sessionSecret, first.sessionSecret);
    } finally {
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it("sweeps upload temp files older than an hour and keeps newer ones", async () => {
    const paths = await freshPaths();
    try {
      const now = new Date("2026-11-24T12:00:00Z");
      const old = path.join(paths.tmp, "old.pdf.part");
      const fresh = path.join(paths.tmp, "fresh.pdf.part");
      await writeFile(old, "x");
      await writeFile(fresh, "y");
      await utimes(old, new Date(now.getTime() - 2 * 3_600_000), new Date(now.getTime() - 2 * 3_600_000));
      await utimes(fresh, new Date(now.getTime() - 60_000), new Date(now.getTime() - 60_000));
      assert.equal(await sweepStaleTempFiles(paths, now), 1);
      assert.deepEqual(await readdir(paths.tmp), ["fresh.pdf.part"]);
    } finally {
      await rm(paths.root, { recursive: true, force: true });
    }
  });

  it("sweeps stale temp files when the portal starts", async () => {
    const first = await createTestApp();
    const leftover = path.join(first.dataDir, "tmp", "crashed-upload.pdf.part");
    await writeFile(leftover, "half an upload");
    await utimes(leftover, new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z"));
    await first.app.close();
    const { buildApp } = await import("../../src/app.ts");
    const again = await buildApp({ config: first.config, now: () => new Date("2026-11-24T12:00:00Z") });
    try {
      assert.deepEqual(await readdir(path.join(first.dataDir, "tmp")), []);
    } finally {
      await again.close();
      await rm(first.dataDir, { recursive: true, force: true });
    }
  });

  it("removes, when the portal starts, agreement files older than an hour that no row names, and keeps the rest", async () => {
    const first = await createTestApp();
    const { id } = await submitRequest(first, "kept@example.org");
    const named = (await first.app.db.agreement.findFirstOrThrow({ where: { requestId: id } })).storageName;
    const agreements = path.join(first.dataDir, "agreements");
    const orphan = path.join(agreements, "0b6f3c2e-0000-4000-8000-000000000001.pdf");
    const recent = path.join(agreements, "0b6f3c2e-0000-4000-8000-000000000002.pdf");
    await writeFile(orphan, "a killed upload's file");
    await writeFile(recent, "an upload in flight");
    const start = new Date("2026-11-24T12:00:00Z");
    for (const file of [orphan, path.join(agreements, named)]) await utimes(file, new Date(start.getTime() - 2 * 3_600_000), new Date(start.getTime() - 2 * 3_600_000));
    await utimes(recent, new Date(start.getTime() - 60_000), new Date(start.getTime() - 60_000));
    await first.app.close();
    const { buildApp } = await import("../../src/app.ts");
    const lines: string[] = [];
    const again = await buildApp({ config: { ...first.config, LOG_LEVEL: "info" }, now: () => start, logStream: { write: (line) => lines.push(line) } });
    try {
      assert.deepEqual((await readdir(agreements)).sort(), [named, path.basename(recent)].sort());
      assert.ok(lines.some((line) => line.includes('"orphans":1')), "the sweep is logged");
    } finally {
      await again.close();
      await rm(first.dataDir, { recursive: true, force: true });
    }
  });
});
