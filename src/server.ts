import { buildApp } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { deployPendingMigrations, MigrationStateError } from "./db/migrations.ts";
import { SETUP_LINK_TTL_HOURS } from "./services/staff-accounts.ts";
import type { FastifyInstance } from "fastify";
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";

async function main(): Promise<void> {
  // A .env file beside the project is optional; real environment variables win over it.
  if (existsSync(".env")) process.loadEnvFile(".env");
  const config = loadConfig(process.env);
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  if (config.AUTO_MIGRATE) await deployPendingMigrations(config.databaseUrl);
  const app = await buildApp({ config });

  let closing = false;
  const close = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    await app.close();
  };
  process.once("SIGINT", () => void close("SIGINT"));
  process.once("SIGTERM", () => void close("SIGTERM"));

  await app.listen({ host: config.HOST, port: config.PORT });
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

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof MigrationStateError) {
    console.error(`keysign: ${error.message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
