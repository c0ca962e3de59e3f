/**
 * docker-compose.yml and the Dockerfile: this machine runs no container engine, so the files are
 * checked for what they must wire together, and validated with Debian's docker-compose when it
 * is installed (CI installs it).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";

const ROOT = path.resolve(import.meta.dirname, "../..");
const HAS_COMPOSE = spawnSync("docker-compose", ["version"]).status === 0;

describe("docker-compose.yml", () => {
  it("runs the portal from the Dockerfile with its data in a volume, and Mailpit as its SMTP server", async () => {
    const compose = await readFile(path.join(ROOT, "docker-compose.yml"), "utf8");
    assert.match(compose, /^ {2}portal:\n {4}build: \.$/m);
    assert.match(compose, /SMTP_URL: "smtp:\/\/mailpit:1025"/);
    assert.match(compose, /- keysign-data:\/data$/m);
    assert.match(compose, /^ {2}mailpit:\n {4}image: axllent\/mailpit:v[\d.]+$/m);
    assert.match(compose, /- "8025:8025"/);
    const dockerfile = await readFile(path.join(ROOT, "Dockerfile"), "utf8");
    assert.match(dockerfile, /^FROM node:20-bookworm-slim$/m);
    assert.match(dockerfile, /apt-get install -y --no-install-recommends gnupg/);
    assert.match(dockerfile, /^RUN npm ci --omit=dev/m);
    assert.match(dockerfile, /^ENV .*DATA_DIR=\/data/m);
    assert.match(dockerfile, /^CMD \["npm", "start"\]$/m);
  });

  it("is a valid Compose file", { skip: HAS_COMPOSE ? false : "docker-compose is not installed here (CI installs it and runs this check)" }, () => {
    const run = spawnSync("docker-compose", ["-f", path.join(ROOT, "docker-compose.yml"), "config", "-q"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
  });
});
