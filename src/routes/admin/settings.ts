import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { formatFingerprint } from "../../core/key-policy.ts";
import { FormError, type FormProblem } from "../../errors.ts";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";
import { settingsModel } from "../../presenters/settings.ts";
import { field, readMultipartForm } from "../forms.ts";

const SettingsBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  approvalsRequired: Type.String({ maxLength: 10, default: "" }),
  certificationValidityDays: Type.String({ maxLength: 10, default: "" }),
  policyUrl: Type.String({ maxLength: 400, default: "" }),
  organisationName: Type.String({ maxLength: 200, default: "" }),
  certificationDomain: Type.String({ maxLength: 300, default: "" }),
});

/** Admin settings: approval quorum, certification validity and policy URL, the master public key. */
const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.get("/settings", { preHandler: admin }, async (_request, reply) => show(reply, {}));

  app.post("/settings", { preValidation: app.csrfProtection, preHandler: admin, schema: { body: SettingsBody } }, async (request, reply) => {
    try {
      await app.settings.update(request.body, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems, values: request.body }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=1", 303);
  });

  app.post("/settings/master-key", { preValidation: app.csrfProtection, preHandler: admin }, async (request, reply) => {
    const form = await readMultipartForm(request.body);
    const upload = form.files.get("masterKeyFile")?.bytes ?? Buffer.from(field(form, "masterKeyText"), "utf8");
    try {
      await app.settings.setMasterKey(upload, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=1", 303);
  });

  async function show(reply: FastifyReply, extra: { problems?: FormProblem[]; values?: Record<string, string | undefined> }, status = 200) {
    const settings = await app.settings.read();
    const saved = new URL(reply.request.url, "http://portal").searchParams.has("saved");
    const queueKey = formatFingerprint(app.signingQueue.queueKey.fingerprint);
    return reply.render("admin/settings.hbs", { ...(await settingsModel(settings, { ...extra, saved })), queueKey }, status);
  }
};

export default settingsRoutes;
