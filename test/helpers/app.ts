import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { deployMigrations, readShippedMigrations } from "../../src/db/migrations.ts";

const TMP_ROOT = path.resolve(import.meta.dirname, "..", ".tmp");

/**
 * A migrated empty database, built once per set of migrations with the real
 * `prisma migrate deploy` and copied for each test. Two test processes may race to
 * build it; each builds its own file and the atomic rename makes either result the template.
 */
export async function templateDatabase(): Promise<string> {
  const shipped = await readShippedMigrations();
  // Every migration's name and checksum: editing any of them builds a new template.
  const key = createHash("sha256").update(JSON.stringify([...shipped])).digest("hex").slice(0, 16);
  const template = path.join(TMP_ROOT, `template-${key}.db`);
  if (await exists(template)) return template;
  await mkdir(TMP_ROOT, { recursive: true });
  const building = path.join(TMP_ROOT, `building-${process.pid}-${Date.now()}.db`);
  await deployMigrations(`file:${building}`);
  await rename(building, template);
  return template;
}

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  /** Moves the app's clock. */
  clock: { now: Date };
  /** Every log line the app wrote (only when LOG_LEVEL is set to something other than silent). */
  logs: string[];
  close: () => Promise<void>;
}

export interface TestAppOptions {
  /** Adds test-only routes or hooks to the real app before it is ready (fastify refuses them later). */
  beforeReady?: (app: FastifyInstance) => void | Promise<void>;
}

/** Builds the real app (same `serverOptions()` as production) on a fresh copy of the migrated database. */
export async function createTestApp(
  env: Record<string, string> = {},
  start = new Date("2026-11-24T12:00:00Z"),
  options: TestAppOptions = {},
): Promise<TestApp> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "keysign-test-"));
  await copyFile(await templateDatabase(), path.join(dataDir, "keysign.db"));
  // A public address, as a deployed portal has: batches refuse to point revocations at localhost.
  const config = loadConfig({ LOG_LEVEL: "silent", MAIL_WORKER: "false", AUTO_MIGRATE: "false", PUBLIC_URL: "http://portal.keysign.test", ...env, DATA_DIR: dataDir });
  const clock = { now: start };
  const logs: string[] = [];
  const app = await buildApp({ config, now: () => clock.now, logStream: { write: (line: string) => logs.push(line) } });
  await options.beforeReady?.(app);
  await app.ready();
  return {
    app,
    config,
    dataDir,
    clock,
    logs,
    close: async () => {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
