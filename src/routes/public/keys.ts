import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { keyStatus } from "../../core/publication/key-status.ts";
import { NotFoundError } from "../../errors.ts";
import { MAX_SEARCH_LENGTH } from "../../core/publication/directory.ts";
import { directoryModel, keyStatusModel } from "../../presenters/key-status.ts";
import { DirectoryCache } from "../../services/directory-cache.ts";
import { findCertificationRecords } from "../../repositories/publication.ts";

/** Any spelling people paste (spaces between groups of four, lower case); anything else is a 404 that says what to check. */
const FingerprintParams = Type.Object({ fingerprint: Type.String({ maxLength: 100 }) });

const NOT_PUBLISHED = "No certification of this key is published here. Check the fingerprint: it has 40 hexadecimal digits (gpg --fingerprint shows it).";

const DirectoryQuery = Type.Object({ q: Type.String({ maxLength: MAX_SEARCH_LENGTH, default: "" }) });

/** The public directory, and the status of one key by its full fingerprint: the URL every revocation names. */
const keyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const directory = new DirectoryCache(app.db, () => app.now());
  const unsubscribe = app.publication.subscribe(() => directory.clear());
  app.addHook("onClose", async () => unsubscribe());

  app.get("/", { schema: { querystring: DirectoryQuery } }, async (request, reply) => {
    const query = request.query.q.trim();
    // A full fingerprint goes to the key's own page, listed or not: that page names no owner.
    const fingerprint = query.replaceAll(" ", "").toUpperCase();
    if (/^[0-9A-F]{40}$/.test(fingerprint) && keyStatus(await findCertificationRecords(app.db, fingerprint), app.now())) return reply.redirect(`/keys/${fingerprint}`, 303);
    return reply.render("public/directory.hbs", directoryModel(await directory.search(query), query));
  });

  app.get("/:fingerprint", { schema: { params: FingerprintParams } }, async (request, reply) => {
    const fingerprint = request.params.fingerprint.replaceAll(" ", "").toUpperCase();
    if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw new NotFoundError(NOT_PUBLISHED);
    const status = keyStatus(await findCertificationRecords(app.db, fingerprint), app.now());
    if (status === null) throw new NotFoundError(NOT_PUBLISHED);
    return reply.render("public/key-status.hbs", keyStatusModel(fingerprint, status, app.config.PUBLIC_URL));
  });
};

export default keyRoutes;
