import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { keyStatus } from "../../core/publication/key-status.ts";
import { NotFoundError } from "../../errors.ts";
import { keyStatusModel } from "../../presenters/key-status.ts";
import { findCertificationRecords } from "../../repositories/publication.ts";

/** Any spelling people paste (spaces between groups of four, lower case); anything else is a 404 that says what to check. */
const FingerprintParams = Type.Object({ fingerprint: Type.String({ maxLength: 100 }) });

const NOT_PUBLISHED = "No certification of this key is published here. Check the fingerprint: it has 40 hexadecimal digits (gpg --fingerprint shows it).";

/** The public status of one key by its full fingerprint: the URL every revocation names. */
const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/:fingerprint", { schema: { params: FingerprintParams } }, async (request, reply) => {
    const fingerprint = request.params.fingerprint.replaceAll(" ", "").toUpperCase();
    if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new NotFoundError(NOT_PUBLISHED);
    const status = keyStatus(await findCertificationRecords(app.db, fingerprint), app.now());
    if (status === null) throw new NotFoundError(NOT_PUBLISHED);
    return reply.render("public/key-status.hbs", keyStatusModel(fingerprint, status, app.config.PUBLIC_URL));
  });
};

export default keyRoutes;
