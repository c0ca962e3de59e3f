import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { explainFsError, explainUnexpected, StartupError } from "./startup.ts";
import { deployPendingMigrations, MigrationStateError } from "./db/migrations.ts";
import { SETUP_LINK_TTL_HOURS } from "./services/staff-accounts.ts";
import type { FastifyInstance } from "fastify";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";

/** How long shutdown may take: under the 10 s that `docker stop` and most supervisors wait before SIGKILL. */
const SHUTDOWN_LIMIT_MS = 8_000;

async function main(): Promise<void> {
  // A .env file beside the project is optional; real environment variables win over it.
  if (existsSync(".env")) process.loadEnvFile(".env");
  const config = loadConfig(process.env);
  listenOn = { host: config.HOST, port: config.PORT };
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw explainFsError(error, `the data directory ${config.dataDir} cannot be created`, "Set DATA_DIR to a directory this user can write, or fix its permissions.");
  });
  if (config.AUTO_MIGRATE) await deployPendingMigrations(config.databaseUrl);
  const app = await buildApp({ config });

  let closing = false;
  const close = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    // The mail worker interrupts its sends, so SMTP cannot hold shutdown up. Should anything else,
    // the signal is raised again: its handler is gone, so it ends the process as it would have.
    const overdue = setTimeout(() => {
      // Not the logger: it writes asynchronously, and the signal would end the process before the line is out.
      console.error(`keysign: shutdown took more than ${SHUTDOWN_LIMIT_MS / 1000} s; ending the process with ${signal}`);
      process.kill(process.pid, signal);
    }, SHUTDOWN_LIMIT_MS);
    overdue.unref();
    try {
      await app.close();
    } catch (err) {
      app.log.error({ err }, "shutdown failed");
      process.exitCode = 1;
    } finally {
      clearTimeout(overdue);
    }
  };
  process.once("SIGINT", () => void close("SIGINT"));
  process.once("SIGTERM", () => void close("SIGTERM"));

  await app.listen({ host: config.HOST, port: config.PORT }).catch(async (error: unknown) => {
    await app.close();
    throw error;
  });
  if (!config.SMTP_URL) app.log.info({ mailDir: app.dataPaths.mail }, "no SMTP_URL: emails are written as .eml files");
  await printFirstAdminLink(app);
}

/** No default password: with no enabled admin, the console gets a one-time link to create one. */
async function printFirstAdminLink(app: FastifyInstance): Promise<void> {
  const link = await app.staffAuth.firstStartSetupLink();
  if (!link) return;
  console.log(
    `\nNo admin account exists yet. Create the first one with this one-time link (it expires in ${SETUP_LINK_TTL_HOURS} hours;` +
      ` each start without an admin prints a new one):\n\n  ${link}\n`,
  );
}

/** Where the portal was to listen, for a message about the port; known once the configuration is read. */
let listenOn = { host: "", port: 0 };

main().catch((error: unknown) => {
  const explained = error instanceof StartupError ? error : explainUnexpected(error, listenOn);
  if (error instanceof ConfigError || error instanceof MigrationStateError || explained !== null) {
    // One line a person can act on; a fault nobody foresaw keeps its stack trace.
    console.error(`keysign: ${(explained ?? (error as Error)).message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
