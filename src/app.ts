import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { Config } from "./config.ts";
import { localDatabaseFile, openDatabase } from "./db/client.ts";
import { assertMigrationsApplied } from "./db/migrations.ts";
import { registerCookie } from "./plugins/external/cookie.ts";
import { registerCsrf } from "./plugins/external/csrf.ts";
import { FORM_BODY_LIMIT, registerFormbody } from "./plugins/external/formbody.ts";
import { registerHelmet } from "./plugins/external/helmet.ts";
import { registerMultipart } from "./plugins/external/multipart.ts";
import { registerPdfjs } from "./plugins/external/pdfjs.ts";
import { registerRateLimit } from "./plugins/external/rate-limit.ts";
import { registerStatic } from "./plugins/external/static.ts";
import { registerView } from "./plugins/external/view.ts";
import { serializeRequest } from "./logging.ts";
import noStore from "./plugins/app/no-store.ts";
import render from "./plugins/app/render.ts";
import services from "./plugins/app/services.ts";
import session from "./plugins/app/session.ts";
import { registerBodyRules } from "./routes/body-rules.ts";
import { registerErrorHandlers } from "./routes/errors.ts";
import accountRoutes from "./routes/account/index.ts";
import adminRoutes from "./routes/admin/index.ts";
import publicRoutes from "./routes/public/index.ts";
import checkModuleRoutes from "./routes/public/check-module.ts";
import hkpRoutes from "./routes/public/hkp.ts";
import keyRoutes from "./routes/public/keys.ts";
import statusRoutes from "./routes/public/status.ts";
import requestRoutes from "./routes/account/requests.ts";
import renewalRoutes from "./routes/account/renewals.ts";
import { agreementStorageNames } from "./repositories/agreements.ts";
import { dataPaths, loadOrCreateSecrets, prepareDataDir, restrictDatabaseFile, sweepOrphanAgreements, sweepStaleTempFiles } from "./storage/data-dir.ts";

/** Anything that takes log lines, as pino's destination does. */
export interface LogStream {
  write(line: string): void;
}

declare module "fastify" {
  interface FastifyInstance {
    routeTable: ReadonlyArray<{ method: string; url: string }>;
  }
}

export interface AppOptions {
  config: Config;
  /** The clock; tests pass a fixed one. */
  now?: () => Date;
  /** Where log lines go (standard output when absent); tests read them. */
  logStream?: LogStream;
}

/** Fastify's own options, shared by production and tests so both run the same server. */
export function serverOptions(config: Config, logStream?: LogStream): FastifyServerOptions {
  return {
    logger: {
      level: config.LOG_LEVEL,
      ...(logStream ? { stream: logStream } : {}),
      redact: { paths: ["req.headers.cookie", "req.headers.authorization", 'res.headers["set-cookie"]'], censor: "[redacted]" },
      // One-time link tokens travel in query strings: no query value reaches a log line.
      serializers: { req: serializeRequest },
    },
    // Fastify's own handler logs the raw bytes of a malformed request at trace level, cookies
    // and one-time tokens included; this one answers 400 and logs nothing.
    clientErrorHandler: (_error, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      else socket.destroy();
    },
    trustProxy: config.TRUST_PROXY,
    // The default for any body; each route that takes one sets its own (src/routes/body-rules.ts).
    bodyLimit: FORM_BODY_LIMIT,
    requestTimeout: 60_000,
    connectionTimeout: 70_000,
    keepAliveTimeout: 10_000,
    pluginTimeout: 60_000,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 100 },
  };
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config } = options;
  const app = Fastify(serverOptions(config, options.logStream)).withTypeProvider<TypeBoxTypeProvider>();
  const paths = dataPaths(config.dataDir);
  await prepareDataDir(paths);
  await restrictDatabaseFile(localDatabaseFile(config.databaseUrl));
  const now = options.now ?? (() => new Date());
  const swept = await sweepStaleTempFiles(paths, now());
  if (swept > 0) app.log.info({ swept }, "removed stale upload temp files");
  const secrets = await loadOrCreateSecrets(paths, { sessionSecret: config.SESSION_SECRET });
  const db = await openDatabase(config.databaseUrl);
  try {
    await assertMigrationsApplied(db);
    const orphans = await sweepOrphanAgreements(paths, await agreementStorageNames(db), now());
    if (orphans > 0) app.log.info({ orphans }, "removed agreement files no request names");
  } catch (error) {
    await db.$disconnect();
    throw error;
  }

  await registerHelmet(app, { secure: config.secureCookies });
  await registerCookie(app, { secret: secrets.sessionSecret });
  await registerCsrf(app, { secure: config.secureCookies });
  // No route takes JSON or plain text: only the two form encodings have parsers.
  app.removeAllContentTypeParsers();
  await registerFormbody(app);
  await registerMultipart(app);
  await registerRateLimit(app);
  await registerStatic(app);
  await registerPdfjs(app);
  await registerView(app, { production: config.LOG_LEVEL !== "debug" });

  await app.register(services, { config, db, paths, now });
  await app.register(session);
  await app.register(render);
  await app.register(noStore);

  // Every route with its method, so the authorisation matrix test can prove it covers them all.
  const routeTable: Array<{ method: string; url: string }> = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") routeTable.push({ method, url: route.url });
  });
  app.decorate("routeTable", routeTable);
  // Every route that takes a body: its one content type and size limit, and the CSRF check.
  registerBodyRules(app);

  registerErrorHandlers(app);
  await app.register(publicRoutes);
  await app.register(checkModuleRoutes);
  await app.register(keyRoutes, { prefix: "/keys" });
  await app.register(hkpRoutes);
  await app.register(statusRoutes, { prefix: "/status" });
  await app.register(accountRoutes, { prefix: "/account" });
  await app.register(requestRoutes, { prefix: "/requests" });
  await app.register(renewalRoutes, { prefix: "/requests" });
  await app.register(adminRoutes, { prefix: "/admin" });
  return app;
}
