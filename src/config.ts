import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { parseKeyserverList, type Keyserver } from "./core/publication/keyservers.ts";

/**
 * The one environment schema. Nothing else reads process.env: server.ts passes
 * process.env here, tests pass their own object.
 */
export const ConfigSchema = Type.Object({
  HOST: Type.String({ default: "127.0.0.1" }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  /** Defaults to http://localhost:<PORT>. */
  PUBLIC_URL: Type.String({ pattern: "^(https?://[^/]+)?$", default: "" }),
  DATA_DIR: Type.String({ minLength: 1, default: "./data" }),
  DATABASE_URL: Type.String({ default: "" }),
  SESSION_SECRET: Type.String({ default: "" }),
  /** Armored, unprotected queue key; generated into the data directory when empty. */
  QUEUE_KEY_FILE: Type.String({ default: "" }),
  /** Days an exported batch stays valid for signing. */
  BATCH_EXPIRY_DAYS: Type.Integer({ minimum: 1, maximum: 90, default: 14 }),
  SMTP_URL: Type.String({ default: "" }),
  MAIL_FROM: Type.String({ default: "Keysign <keysign@localhost>" }),
  /**
   * This process runs the background workers: mail delivery, the review digest and the pushes
   * to upstream keyservers. Exactly one process per database should.
   */
  MAIL_WORKER: Type.Boolean({ default: true }),
  /** The longest one send may take (connecting, the greeting, every answer); then it is retried later. */
  SMTP_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 120, default: 30 }),
  /** Emails sent at the same time, so one stuck send never holds the others. */
  SMTP_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 32, default: 4 }),
  /** A directory the portal rewrites (atomically) with the static export after every publication change; empty: none. */
  PUBLISH_DIR: Type.String({ default: "" }),
  /** Upstream keyservers (hkp:// or hkps:// URLs, separated by spaces or commas) sent every published change; empty: none. */
  PUBLISH_KEYSERVERS: Type.String({ maxLength: 4000, default: "" }),
  /** The longest one push to a keyserver may take (connecting, sending, its answer); then it is retried later. */
  PUBLISH_TIMEOUT_SECONDS: Type.Integer({ minimum: 1, maximum: 120, default: 30 }),
  /**
   * When signing ceremonies happen, as applicants read it after "Signing ceremonies are held"
   * (e.g. "on the first Monday of each month"); empty: applicants are told no date.
   */
  SIGNING_SCHEDULE: Type.String({ maxLength: 120, pattern: "^[^\\r\\n]*$", default: "" }),
  AUTO_MIGRATE: Type.Boolean({ default: true }),
  TRUST_PROXY: Type.Boolean({ default: false }),
  LOG_LEVEL: Type.Union(
    ["fatal", "error", "warn", "info", "debug", "trace", "silent"].map((level) => Type.Literal(level)),
    { default: "info" },
  ),
  MIN_RSA_BITS: Type.Integer({ minimum: 2048, maximum: 16384, default: 2048 }),
  SIGNIN_RATE_PER_ADDRESS: Type.Integer({ minimum: 1, default: 5 }),
  SIGNIN_RATE_PER_IP: Type.Integer({ minimum: 1, default: 20 }),
});

export type RawConfig = Static<typeof ConfigSchema>;

export interface Config extends RawConfig {
  /** Absolute data directory. */
  dataDir: string;
  databaseUrl: string;
  /** Cookies get `Secure` unless the portal is served over plain http (local development). */
  secureCookies: boolean;
  /** PUBLISH_KEYSERVERS, checked and read. */
  publishKeyservers: Keyserver[];
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(source: Record<string, string | undefined>): Config {
  const known = Object.fromEntries(
    Object.keys(ConfigSchema.properties).flatMap((key) => {
      const value = source[key];
      return value === undefined || value === "" ? [] : [[key, value]];
    }),
  );
  const converted = Value.Default(ConfigSchema, Value.Convert(ConfigSchema, known));
  if (!Value.Check(ConfigSchema, converted)) {
    const problems = [...Value.Errors(ConfigSchema, converted)].map((e) => `${e.path.slice(1)}: ${e.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const raw: RawConfig = { ...converted, PUBLIC_URL: converted.PUBLIC_URL || `http://localhost:${converted.PORT}` };
  const dataDir = path.resolve(raw.DATA_DIR);
  const keyservers = parseKeyserverList(raw.PUBLISH_KEYSERVERS);
  if (!keyservers.ok) throw new ConfigError(`invalid configuration: PUBLISH_KEYSERVERS: ${keyservers.message}`);
  return {
    ...raw,
    dataDir,
    databaseUrl: raw.DATABASE_URL || `file:${path.join(dataDir, "keysign.db")}`,
    secureCookies: raw.PUBLIC_URL.startsWith("https://"),
    publishKeyservers: keyservers.keyservers,
  };
}
