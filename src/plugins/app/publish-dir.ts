/**
 * PUBLISH_DIR: the portal keeps a static export of its read side in that directory, written
 * at start and after every publication change (see src/services/static-export.ts).
 */
import type { FastifyInstance } from "fastify";
import { exportStatic, StaticExportScheduler, type ExportSources } from "../../services/static-export.ts";
import type { PublicationSignal } from "../../services/publication-signal.ts";
import { keyStatusModel } from "../../presenters/key-status.ts";

declare module "fastify" {
  interface FastifyInstance {
    /** Keeps PUBLISH_DIR current; null when PUBLISH_DIR is not set. */
    staticExport: StaticExportScheduler | null;
  }
}

/**
 * What `reply.render` adds to a page for a visitor with no session (src/plugins/app/render.ts);
 * the layout shows no form and no token to such a visitor. The tests compare the exported pages
 * with what the route serves.
 */
const VISITOR = { csrfToken: "", signedIn: false, staff: null };

/** What the export reads, from a built app: its database, feed, clock and its own pages. */
export function exportSourcesOf(app: FastifyInstance): ExportSources {
  return {
    db: app.db,
    now: app.now,
    feed: () => app.statusFeed.current(),
    publicationKey: app.statusFeed.key.publicArmored,
    render: async (url) => {
      const response = await app.inject({ method: "GET", url });
      return { statusCode: response.statusCode, body: new Uint8Array(response.rawPayload) };
    },
    renderKeyStatus: async (fingerprint, status) => {
      const html: string = await app.view("public/key-status.hbs", { ...keyStatusModel(fingerprint, status, app.config.PUBLIC_URL), ...VISITOR });
      return new TextEncoder().encode(html);
    },
  };
}

/**
 * The export is also made every hour without changes: the feed is signed anew once a day and
 * each signature holds two days, so the exported feed never runs out.
 */
export const REEXPORT_INTERVAL_MS = 3_600_000;

/** Decorates `staticExport` and, with PUBLISH_DIR set, exports once ready and after every signal. */
export function registerPublishDir(app: FastifyInstance, publication: PublicationSignal): void {
  const dir = app.config.PUBLISH_DIR;
  const scheduler = dir ? new StaticExportScheduler(() => exportStatic(exportSourcesOf(app), dir), app.log.child({ component: "static-export" })) : null;
  app.decorate("staticExport", scheduler);
  if (!scheduler) return;
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | null = null;
  app.addHook("onReady", async () => {
    unsubscribe = publication.subscribe(() => void scheduler.request());
    timer = setInterval(() => void scheduler.request(), REEXPORT_INTERVAL_MS);
    timer.unref();
    // Not awaited: the export renders pages through the app, which answers only once ready.
    void scheduler.request();
  });
  app.addHook("onClose", async () => {
    unsubscribe();
    if (timer) clearInterval(timer);
    await scheduler.idle();
  });
}
