import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { Envelope } from "../../core/transfer/formats.ts";
import { isKeysignError } from "../../errors.ts";
import { requireStaff, staffActorOf } from "../../plugins/app/authorization.ts";
import { batchFileName, batchModel, IMPORT_TITLE, importedModel, importProblemsModel, signingQueueModel } from "../../presenters/signing.ts";
import { ImportRefusedError, type ImportOutcome } from "../../services/result-import.ts";
import { recertifyModel } from "../../presenters/master-rotation.ts";
import { sendKeyFile } from "../downloads.ts";
import { multipartBody } from "../body-rules.ts";
import { multipartFormOf } from "../forms.ts";

const BatchParams = Type.Object({ number: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }) });
const MasterBody = Type.Object({ _csrf: Type.Optional(Type.String()), master: Type.String({ pattern: "^[0-9A-F]{40}$" }), confirm: Type.Optional(Type.String({ maxLength: 10 })) });
const BatchQuery = Type.Object({ exported: Type.Optional(Type.String({ maxLength: 1 })), held: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })) });

/**
 * The largest result the transfer format accepts (its payload may reach 64 MiB; a 1,000-item
 * result is a few MiB), plus the detached signature and the envelope's few fields. Read only
 * for a signing officer, and only after the CSRF token.
 */
const RESULT_FILE_BYTES = (Envelope.properties.payload.maxLength ?? 0) + (Envelope.properties.signature.maxLength ?? 0) + 4 * 1024;
const IMPORT_FORM = multipartBody({
  maxBytes: RESULT_FILE_BYTES + 64 * 1024,
  files: { result: { maxBytes: RESULT_FILE_BYTES, label: "The result file" } },
  maxFieldBytes: 1024,
  maxFields: 4,
});

/** The signing queue (signing officers): export batches, cancel expired ones, import results. */
const signingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const officer = requireStaff("signing_officer");
  const officerOrAdmin = requireStaff("signing_officer", "admin");

  app.get("/signing", { onRequest: officer }, async (_request, reply) => showQueue(reply));

  // The signer pins this key (keysign init --queue-key FILE).
  app.get("/signing/queue-key.asc", { onRequest: officerOrAdmin }, async (_request, reply) => {
    const { fingerprint, publicArmored } = app.signingQueue.queueKey;
    return sendKeyFile(reply, { filename: `keysign-queue-key-${fingerprint}.asc`, armored: publicArmored });
  });

  app.post("/signing/batches", { onRequest: officer }, async (request, reply) => {
    try {
      const outcome = await app.signingQueue.exportBatch(staffActorOf(request));
      return reply.redirect(`/admin/signing/batches/${outcome.number}?exported=1&held=${outcome.held.length}`, 303);
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500) throw error;
      return showQueue(reply, error.message, error.statusCode);
    }
  });

  app.post("/signing/recertify", { onRequest: officer }, async (request, reply) => {
    try {
      const outcome = await app.signingQueue.exportRecertification(staffActorOf(request));
      return reply.redirect(`/admin/signing/batches/${outcome.number}?exported=1`, 303);
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500) throw error;
      return showQueue(reply, error.message, error.statusCode);
    }
  });

  app.post("/signing/master-revocations", { onRequest: officer, schema: { body: MasterBody } }, async (request, reply) => {
    try {
      const outcome = await app.signingQueue.exportRevocationsForMaster(staffActorOf(request), request.body.master);
      return reply.redirect(`/admin/signing/batches/${outcome.number}?exported=1`, 303);
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500) throw error;
      return showQueue(reply, error.message, error.statusCode);
    }
  });

  app.get("/signing/batches/:number", { onRequest: officer, schema: { params: BatchParams, querystring: BatchQuery } }, async (request, reply) => {
    const batch = await app.signingQueue.batch(request.params.number);
    const flash = { exported: request.query.exported === "1", held: request.query.held };
    return reply.render("admin/signing/batch.hbs", batchModel(batch, app.now(), flash));
  });

  app.get("/signing/batches/:number/file", { onRequest: officer, schema: { params: BatchParams } }, async (request, reply) => {
    const batch = await app.signingQueue.batch(request.params.number);
    return reply
      .type("application/octet-stream")
      .header("content-disposition", `attachment; filename="${batchFileName(batch.number)}"`)
      .send(Buffer.from(batch.file));
  });

  app.post("/signing/batches/:number/cancel", { onRequest: officer, schema: { params: BatchParams } }, async (request, reply) => {
    try {
      await app.signingQueue.cancel(request.params.number, staffActorOf(request));
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500 || error.statusCode === 404) throw error;
      const batch = await app.signingQueue.batch(request.params.number);
      return reply.render("admin/signing/batch.hbs", { ...batchModel(batch, app.now(), {}), error: error.message }, error.statusCode);
    }
    return reply.redirect(`/admin/signing/batches/${request.params.number}`, 303);
  });

  app.get("/signing/import", { onRequest: officer }, async (_request, reply) => reply.render("admin/signing/import.hbs", { title: IMPORT_TITLE }));

  app.post("/signing/import", { onRequest: officer, config: IMPORT_FORM }, async (request, reply) => {
    const form = multipartFormOf(request);
    const file = form.files.get("result");
    if (!file) return reply.render("admin/signing/import.hbs", { title: IMPORT_TITLE, error: "Choose the result file the signer wrote, then import it." }, 400);
    try {
      const outcome = await app.signingQueue.importResult(file.bytes, staffActorOf(request));
      return await showImported(reply, outcome);
    } catch (error) {
      if (!isKeysignError(error) || error.statusCode >= 500) throw error;
      const problems = error instanceof ImportRefusedError ? importProblemsModel(error.problems, error.items) : [];
      return reply.render("admin/signing/import.hbs", { title: IMPORT_TITLE, error: error.message, problems }, error.statusCode);
    }
  });

  /** What the import changed, item by item, read back from the batch it just closed. */
  async function showImported(reply: FastifyReply, outcome: ImportOutcome) {
    if (outcome.kind === "already_imported") return reply.render("admin/signing/import.hbs", { title: IMPORT_TITLE, already: outcome });
    const imported = importedModel(outcome, await app.signingQueue.batch(outcome.batch));
    return reply.render("admin/signing/import.hbs", { title: `Batch ${outcome.batch} imported`, imported });
  }

  async function showQueue(reply: FastifyReply, error?: string, status = 200) {
    const [overview, settings, rotation] = await Promise.all([app.signingQueue.overview(), app.settings.read(), app.masterRotation.view()]);
    const model = signingQueueModel({ ...overview, queueKey: app.signingQueue.queueKey, masterFingerprint: settings.masterFingerprint, now: app.now(), error });
    return reply.render("admin/signing/queue.hbs", { ...model, rotation: recertifyModel(rotation) }, status);
  }
};

export default signingRoutes;
