import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { machineReadableIndex, parseLookup, type HkpSearch } from "../../core/publication/hkp.ts";
import { armoredKeys, indexedKeys, lookupPublishedKeys } from "../../services/publication.ts";

const Field = Type.Optional(Type.String({ maxLength: 300 }));
const LookupQuery = Type.Object({ op: Field, search: Field, options: Field, exact: Field, fingerprint: Field });

const NOT_FOUND = "No key is published here for that search. Certified keys are found by their full fingerprint or 16-digit key ID, and by the addresses their owners chose to publish.";

/**
 * HKP (`gpg --keyserver hkp://… --recv-keys`) and the keys.openpgp.org VKS paths: published keys
 * by exact fingerprint or key ID. Answers are plain text, as dirmngr shows them.
 */
const hkpRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get("/pks/lookup", { schema: { querystring: LookupQuery } }, async (request, reply) => {
    const query = parseLookup(request.query);
    if (!query.ok) return reply.code(query.status).type("text/plain; charset=utf-8").send(`${query.message}\n`);
    const keys = await lookupPublishedKeys(app.db, query.search);
    if (keys.length === 0) return notFound(reply);
    if (query.op === "index") return reply.type("text/plain; charset=utf-8").send(machineReadableIndex(await indexedKeys(app.db, keys), app.now()));
    return sendKeys(reply, query.search, keys);
  });

  const vks = (kind: HkpSearch["kind"], pattern: RegExp) => async (request: { params: { id: string } }, reply: FastifyReply) => {
    const value = request.params.id.trim();
    if (!pattern.test(value)) return notFound(reply);
    const search = { kind, value: kind === "email" ? value.toLowerCase() : value.toUpperCase() } as HkpSearch;
    const keys = await lookupPublishedKeys(app.db, search);
    return keys.length === 0 ? notFound(reply) : sendKeys(reply, search, keys);
  };
  const Id = { schema: { params: Type.Object({ id: Type.String({ maxLength: 320 }) }) } };
  app.get("/vks/v1/by-fingerprint/:id", Id, vks("fingerprint", /^[0-9A-Fa-f]{40}$/));
  app.get("/vks/v1/by-keyid/:id", Id, vks("keyId", /^[0-9A-Fa-f]{16}$/));
  app.get("/vks/v1/by-email/:id", Id, vks("email", /^[^\s@]+@[^\s@]+$/));
};

function notFound(reply: FastifyReply) {
  return reply.code(404).type("text/plain; charset=utf-8").send(`${NOT_FOUND}\n`);
}

function sendKeys(reply: FastifyReply, search: HkpSearch, keys: Parameters<typeof armoredKeys>[0]) {
  const name = search.kind === "email" ? "key" : search.value;
  return reply.type("application/pgp-keys").header("content-disposition", `inline; filename="${name}.asc"`).send(armoredKeys(keys));
}

export default hkpRoutes;
