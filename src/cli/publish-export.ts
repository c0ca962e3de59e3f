import { existsSync } from "node:fs";
import { ConfigError, loadConfig, type Config } from "../config.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";

const USAGE_LINE = "usage: keysign publish export DIR";

/**
 * `keysign publish export DIR`: writes the static export of the portal's read side. DIR becomes
 * a link to a complete version directory beside it, swapped atomically; point the web server's
 * root at DIR.
 */
export async function publishExport(args: string[], io: CommandIo): Promise<number> {
  const [dir, ...extra] = args;
  if (dir === undefined || dir === "" || dir.startsWith("-") || extra.length > 0) {
    io.stderr.write(`keysign publish export: give one directory to write\n${USAGE_LINE}\n`);
    return EXIT.usage;
  }
  let config: Config;
  try {
    config = loadConfig(io.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`keysign publish export: ${error.message}\n`);
    return EXIT.usage;
  }
  const file = config.databaseUrl.startsWith("file:") ? config.databaseUrl.slice("file:".length) : null;
  if (file !== null && !existsSync(file)) {
    io.stderr.write(`keysign publish export: no database at ${file}; start the portal once or run "npm run db:migrate"\n`);
    return EXIT.databaseNotReady;
  }
  return writeExport({ ...config, MAIL_WORKER: false, PUBLISH_DIR: "", LOG_LEVEL: "warn" }, dir, io);
}

async function writeExport(config: Config, dir: string, io: CommandIo): Promise<number> {
  // The app loads only now, so wrong usage is answered at once. It is built to render the
  // pages exactly as served, and never listens.
  const [{ buildApp }, { MigrationStateError }, { exportStatic }, { exportSourcesOf }, { ExportDirError }] = await Promise.all([
    import("../app.ts"),
    import("../db/migrations.ts"),
    import("../services/static-export.ts"),
    import("../plugins/app/publish-dir.ts"),
    import("../storage/export-dir.ts"),
  ]);
  let app;
  try {
    app = await buildApp({ config, logStream: { write: (line) => io.stderr.write(line) } });
  } catch (error) {
    if (!(error instanceof MigrationStateError)) throw error;
    io.stderr.write(`keysign publish export: ${error.message}\n`);
    return EXIT.databaseNotReady;
  }
  try {
    await app.ready();
    const written = await exportStatic(exportSourcesOf(app), dir);
    io.stderr.write(`Wrote ${written.files} files to ${written.version}; ${dir} now points at it.\n`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof ExportDirError)) throw error;
    io.stderr.write(`keysign publish export: ${error.message}\n`);
    return EXIT.refused;
  } finally {
    await app.close();
  }
}
