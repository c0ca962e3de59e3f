import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { dataPaths, loadOrCreateSecrets, prepareDataDir, sweepStaleTempFiles } from "../../src/storage/data-dir.ts";
import { createTestApp } from "../helpers/app.ts";

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
});
