import type { FastifyInstance, FastifyRequest } from "fastify";
import { ARCHIVE_LIMITS } from "../../core/module-sig/archive.ts";
import { MAX_MODULE_SIG_BYTES } from "../../core/module-sig/signature.ts";
import { FormError } from "../../errors.ts";
import { checkModuleModel } from "../../presenters/module-check.ts";
import { checkModule, type ModuleCheckInput } from "../../services/module-check.ts";
import { machineMultipartBody, multipartBody } from "../body-rules.ts";
import { wantsJson } from "../errors.ts";
import { multipartFormOf, type MultipartLimits } from "../forms.ts";

/** module.sig (required) and the module's .tgz (optional); the whole body a little over both. */
const LIMITS: MultipartLimits = {
  maxBytes: MAX_MODULE_SIG_BYTES + ARCHIVE_LIMITS.maxCompressedBytes + 64 * 1024,
  files: {
    moduleSig: { maxBytes: MAX_MODULE_SIG_BYTES, label: "module.sig" },
    archive: { maxBytes: ARCHIVE_LIMITS.maxCompressedBytes, label: "The module's archive" },
  },
  maxFieldBytes: 1024,
  maxFields: 4,
};

/**
 * A check reads up to 50 MiB, unpacks up to 500 MiB and verifies signatures: per address, a
 * few a minute are plenty for a person or a release script, and the upload limit per address
 * (body-rules.ts) still holds.
 */
const RATE_LIMIT = { max: 30, timeWindow: 10 * 60_000 };

const NO_MODULE_SIG = "Choose the module's module.sig file (it is in the module's top directory). Nothing was stored.";

/**
 * "Check a module": the page (a form with a CSRF token; JSON when asked), and the same check
 * for scripts at `POST /check-module/json`, which takes no token: it uses no session, changes
 * and stores nothing, and answers only the sender, so a forged request gains nothing
 * (docs/modules.md, "Checking a module on the portal").
 */
export default async function checkModuleRoutes(app: FastifyInstance): Promise<void> {
  app.get("/check-module", async (_request, reply) => reply.render("public/check-module.hbs", checkModuleModel(null)));

  app.post("/check-module", { config: { ...multipartBody(LIMITS), jsonErrors: "when-asked", rateLimit: RATE_LIMIT } }, async (request, reply) => {
    const json = wantsJson(request);
    try {
      const result = await checkModule(app.db, inputOf(request), app.now());
      return json ? reply.send(result) : reply.render("public/check-module.hbs", checkModuleModel(result));
    } catch (error) {
      if (json || !(error instanceof FormError)) throw error;
      return reply.render("public/check-module.hbs", { ...checkModuleModel(null), problems: error.problems }, error.statusCode);
    }
  });

  app.post("/check-module/json", { config: { ...machineMultipartBody(LIMITS), rateLimit: RATE_LIMIT } }, async (request, reply) =>
    reply.send(await checkModule(app.db, inputOf(request), app.now())),
  );
}

function inputOf(request: FastifyRequest): ModuleCheckInput {
  const form = multipartFormOf(request);
  const moduleSig = form.files.get("moduleSig")?.bytes;
  if (moduleSig === undefined) throw new FormError([{ field: "moduleSig", code: "KEYSIGN_ERR_MODULE_SIG_MISSING", message: NO_MODULE_SIG }]);
  return { moduleSig, archive: form.files.get("archive")?.bytes ?? null };
}
