import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { normaliseAddress } from "../core/email-address.ts";
import { isStaffRole, ROLE_LABELS, STAFF_ROLES, type StaffRole } from "../core/roles.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";

class UsageError extends Error {}

interface Request {
  email: string;
  roles: StaffRole[];
}

function parse(args: string[]): Request {
  let values: { email?: string; role?: string[] };
  try {
    ({ values } = parseArgs({ args, options: { email: { type: "string" }, role: { type: "string", multiple: true } }, strict: true }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const email = normaliseAddress(values.email ?? "");
  if (!email) throw new UsageError(values.email ? `"${values.email}" is not an email address` : "--email is required");
  const roles = values.role ?? [];
  if (roles.length === 0) throw new UsageError(`at least one --role is required (${STAFF_ROLES.join(", ")})`);
  const unknown = roles.find((role) => !isStaffRole(role));
  if (unknown !== undefined) throw new UsageError(`unknown role "${unknown}"; roles are ${STAFF_ROLES.join(", ")}`);
  return { email, roles: [...new Set(roles.filter(isStaffRole))] };
}

/** The SQLite file behind a `file:` URL, to refuse a wrong path instead of creating an empty database there. */
function databaseFile(config: Config): string | null {
  return config.databaseUrl.startsWith("file:") ? config.databaseUrl.slice("file:".length) : null;
}

/** `keysign staff create`: prints a one-time link that creates the account (stdout: the link alone). */
export async function staffCreate(args: string[], io: CommandIo): Promise<number> {
  let request: Request;
  let config: Config;
  try {
    request = parse(args);
    config = loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigError)) throw error;
    io.stderr.write(`keysign staff create: ${error.message}\nusage: keysign staff create --email ADDRESS --role ROLE [--role ROLE]...\n`);
    return EXIT.usage;
  }
  const file = databaseFile(config);
  if (file !== null && !existsSync(file)) {
    io.stderr.write(`keysign staff create: no database at ${file}; start the portal once or run "npm run db:migrate"\n`);
    return EXIT.databaseNotReady;
  }
  return createLink(config, request, io);
}

async function createLink(config: Config, request: Request, io: CommandIo): Promise<number> {
  // The database layer loads only now, so wrong usage is answered at once.
  const [{ openDatabase }, { assertMigrationsApplied, MigrationStateError }, { findStaffByEmail }, { issueSetupLink }] = await Promise.all([
    import("../db/client.ts"),
    import("../db/migrations.ts"),
    import("../repositories/staff.ts"),
    import("../services/staff-accounts.ts"),
  ]);
  const db = await openDatabase(config.databaseUrl);
  try {
    await assertMigrationsApplied(db);
    if (await findStaffByEmail(db, request.email)) {
      io.stderr.write(`keysign staff create: a staff account for ${request.email} already exists\n`);
      return EXIT.refused;
    }
    const input = { address: request.email, roles: request.roles, publicUrl: config.PUBLIC_URL, ip: "cli", replaceFirstStart: false };
    const link = await issueSetupLink(db, input, new Date());
    const roles = request.roles.map((role) => ROLE_LABELS[role]).join(", ");
    io.stderr.write(`One-time link for ${request.email} (${roles}), valid until ${link.expiresAt.toISOString()}:\n`);
    io.stdout.write(`${link.url}\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof MigrationStateError)) throw error;
    io.stderr.write(`keysign staff create: ${error.message}\n`);
    return EXIT.databaseNotReady;
  } finally {
    await db.$disconnect();
  }
}
