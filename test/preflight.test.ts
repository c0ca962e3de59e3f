import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { CHROMIUM_PATH } from "./helpers/browser.ts";
import { missingPrograms } from "./preflight.ts";

describe("the suite's preflight", () => {
  it("passes on this machine, which has gpg, nginx and chromium", () => {
    assert.equal(missingPrograms({ chromium: CHROMIUM_PATH, path: process.env.PATH ?? "" }), null);
  });

  it("names each missing program and the line that installs it", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "keysign-no-programs-"));
    try {
      assert.equal(missingPrograms({ chromium: path.join(empty, "chromium"), path: empty }), `The tests need gpg, nginx and chromium (${path.join(empty, "chromium")}), which this machine lacks. Install with: apt-get install -y gnupg nginx chromium`);
      // Run as `npm test` runs it: the process fails, saying so.
      const run = spawnSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, "preflight.ts")], { env: { ...process.env, PATH: empty }, encoding: "utf8" });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /The tests need gpg and nginx, which this machine lacks\. Install with: apt-get install -y gnupg nginx/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
