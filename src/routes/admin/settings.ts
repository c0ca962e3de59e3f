import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { formatFingerprint, LIMITS } from "../../core/key-policy.ts";
import { FormError, isKeysignError, type FormProblem } from "../../errors.ts";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";
import { settingsModel } from "../../presenters/settings.ts";
import { renewalSettingsModel } from "../../presenters/renewals.ts";
import { rotationSettingsModel } from "../../presenters/master-rotation.ts";
import { multipartBody } from "../body-rules.ts";
import { field, multipartFormOf } from "../forms.ts";

const SettingsBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  approvalsRequired: Type.String({ maxLength: 10, default: "" }),
  certificationValidityDays: Type.String({ maxLength: 10, default: "" }),
  openRequestsPerApplicant: Type.Optional(Type.String({ maxLength: 10 })),
  policyUrl: Type.String({ maxLength: 400, default: "" }),
  organisationName: Type.String({ maxLength: 200, default: "" }),
  certificationDomain: Type.String({ maxLength: 300, default: "" }),
  contactAddress: Type.Optional(Type.String({ maxLength: 300 })),
});

const RenewalSettingsBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  renewalApprovalsRequired: Type.String({ maxLength: 10, default: "" }),
  agreementVersion: Type.String({ maxLength: 10, default: "" }),
});

/**
 * The master public key, pasted or as a file, as large as the key intake takes (1 MiB; pasted
 * text a little more, so that the intake's own message explains a key just over the limit).
 */
const MASTER_KEY_FORM = multipartBody({
  maxBytes: LIMITS.maxUploadBytes + 128 * 1024,
  files: { masterKeyFile: { maxBytes: LIMITS.maxUploadBytes, label: "The key file" } },
  maxFieldBytes: LIMITS.maxUploadBytes + 64 * 1024,
  maxFields: 4,
});

/** The new master's public key: the same bounds as the current master's upload. */
const NEW_MASTER_FORM = multipartBody({
  maxBytes: LIMITS.maxUploadBytes + 128 * 1024,
  files: { newMasterKeyFile: { maxBytes: LIMITS.maxUploadBytes, label: "The key file" } },
  maxFieldBytes: LIMITS.maxUploadBytes + 64 * 1024,
  maxFields: 4,
});

const RetireBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  confirm: Type.Optional(Type.String({ maxLength: 10 })),
  acknowledge: Type.Optional(Type.String({ maxLength: 10 })),
});

const ROTATION_SAVED: Readonly<Record<string, string>> = {
  "new-master": "New master registered. Batches still use the current master; a signing officer can now re-certify with the new one.",
  retired: "The old master is retired and the new master is current. Batches are made for the new master from now on.",
};

/** Admin settings: approval quorum, certification validity and policy URL, the master public key. */
const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const admin = requireStaff("admin");

  app.get("/settings", { onRequest: admin }, async (_request, reply) => show(reply, {}));

  app.post("/settings", { onRequest: admin, schema: { body: SettingsBody } }, async (request, reply) => {
    try {
      await app.settings.update(request.body, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems, values: request.body }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=1", 303);
  });

  app.post("/settings/master-key", { onRequest: admin, config: MASTER_KEY_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const upload = form.files.get("masterKeyFile")?.bytes ?? Buffer.from(field(form, "masterKeyText"), "utf8");
    try {
      await app.settings.setMasterKey(upload, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=master", 303);
  });

  // Renewal and agreement version (docs/signing-ceremony.md, "Renewal and replacement").
  app.post("/settings/renewal", { onRequest: admin, schema: { body: RenewalSettingsBody } }, async (request, reply) => {
    try {
      await app.settings.updateRenewalSettings(request.body, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems, values: request.body }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=renewal", 303);
  });

  // Master rotation (docs/master-rotation.md): a second master beside the current one, then retiring the old one.
  app.post("/settings/new-master", { onRequest: admin, config: NEW_MASTER_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const upload = form.files.get("newMasterKeyFile")?.bytes ?? Buffer.from(field(form, "newMasterKeyText"), "utf8");
    try {
      await app.masterRotation.registerNew(upload, staffActorOf(request));
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      return show(reply, { problems: error.problems }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=new-master#master-rotation-title", 303);
  });

  app.post("/settings/retire-master", { onRequest: admin, schema: { body: RetireBody } }, async (request, reply) => {
    if (request.body.confirm !== "yes") {
      return show(reply, { problems: [{ field: "retire-confirm", code: "KEYSIGN_ERR_CONFIRM", message: "Tick the box to confirm that the old master stops signing, then retire it." }] }, 400);
    }
    try {
      await app.masterRotation.retireOld(staffActorOf(request), request.body.acknowledge === "yes");
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500) throw error;
      return show(reply, { problems: [{ field: "retire-confirm", code: error.code, message: error.message }] }, error.statusCode);
    }
    return reply.redirect("/admin/settings?saved=retired#master-rotation-title", 303);
  });

  async function show(reply: FastifyReply, extra: { problems?: FormProblem[]; values?: Record<string, string | undefined> }, status = 200) {
    const settings = await app.settings.read();
    const savedParam = new URL(reply.request.url, "http://portal").searchParams.get("saved");
    const saved = savedParam !== null;
    const queueKey = formatFingerprint(app.signingQueue.queueKey.fingerprint);
    const publicationKey = formatFingerprint(app.statusFeed.key.fingerprint);
    const renewal = renewalSettingsModel(settings, await app.settings.agreementTemplateSha256(), extra.values);
    const rotation = await rotationSettingsModel(await app.masterRotation.view());
    const rotationSaved = ROTATION_SAVED[savedParam ?? ""] ?? null;
    const model = await settingsModel(settings, { ...extra, saved: saved && rotationSaved === null, masterSaved: savedParam === "master", mailFrom: app.config.MAIL_FROM });
    return reply.render("admin/settings.hbs", { ...model, queueKey, publicationKey, ...renewal, rotation, rotationSaved }, status);
  }
};

export default settingsRoutes;
