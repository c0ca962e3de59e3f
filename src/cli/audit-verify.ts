import { existsSync } from "node:fs";
import { ConfigError, loadConfig } from "../config.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";

/** `keysign audit verify`: walks the audit hash chain and names the first broken link. */
export async function auditVerify(args: string[], io: CommandIo): Promise<number> {
  if (args.length > 0) {
    io.stderr.write("keysign audit verify: takes no arguments\nusage: keysign audit verify\n");
    return EXIT.usage;
  }
  let databaseUrl: string;
  try {
    databaseUrl = loadConfig(io.env).databaseUrl;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`keysign audit verify: ${error.message}\n`);
    return EXIT.usage;
  }
  const file = databaseUrl.startsWith("file:") ? databaseUrl.slice("file:".length) : null;
  if (file !== null && !existsSync(file)) {
    io.stderr.write(`keysign audit verify: no database at ${file}\n`);
    return EXIT.databaseNotReady;
  }
  const [{ openDatabase }, { assertMigrationsApplied, MigrationStateError }, { verifyAuditLog, describeVerdict }] = await Promise.all([
    import("../db/client.ts"),
    import("../db/migrations.ts"),
    import("../services/audit-verify.ts"),
  ]);
  const db = await openDatabase(databaseUrl);
  try {
    await assertMigrationsApplied(db);
    const verdict = await verifyAuditLog(db);
    (verdict.ok ? io.stdout : io.stderr).write(`${describeVerdict(verdict)}\n`);
    return verdict.ok ? EXIT.ok : EXIT.auditBroken;
  } catch (error) {
    if (!(error instanceof MigrationStateError)) throw error;
    io.stderr.write(`keysign audit verify: ${error.message}\n`);
    return EXIT.databaseNotReady;
  } finally {
    await db.$disconnect();
  }
}
