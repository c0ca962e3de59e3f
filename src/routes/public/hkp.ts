import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { machineReadableIndex, parseLookup, type HkpSearch } from "../../core/publication/hkp.ts";
import { indexedKey, lookupPublishedKeys } from "../../services/publication.ts";
import { PublishedKeyCache } from "../../services/published-key-cache.ts";

const Field = Type.Optional(Type.String({ maxLength: 300 }));
const LookupQuery = Type.Object({ op: Field, search: Field, options: Field, exact: Field, fingerprint: Field });

const NOT_FOUND = "No key is published here for that search. Certified keys are found by their full fingerprint or 16-digit key ID.";

/**
 * HKP (`gpg --keyserver hkp://… --recv-keys`) and the keys.openpgp.org VKS paths: published keys
 * by exact fingerprint or key ID. Answers are plain text, as dirmngr shows them.
 */
const hkpRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const cache = new PublishedKeyCache(app.db);
  const unsubscribe = app.publication.subscribe(() => cache.clear());
  app.addHook("onClose", async () => unsubscribe());

  app.get("/pks/lookup", { schema: { querystring: LookupQuery } }, async (request, reply) => {
    const query = parseLookup(request.query);
    if (!query.ok) return reply.code(query.status).type("text/plain; charset=utf-8").send(`${query.message}\n`);
    if (query.op === "get") return sendKeys(reply, query.search, await cache.armored(query.search));
    const keys = await lookupPublishedKeys(app.db, query.search);
    if (keys.length === 0) return notFound(reply);
    return reply.type("text/plain; charset=utf-8").send(machineReadableIndex(await Promise.all(keys.map(indexedKey)), app.now()));
  });

  const vks = (kind: HkpSearch["kind"], pattern: RegExp) => async (request: { params: { id: string } }, reply: FastifyReply) => {
    const value = request.params.id.trim();
    if (!pattern.test(value)) return notFound(reply);
    const search = { kind, value: kind === "email" ? value.toLowerCase() : value.toUpperCase() } as HkpSearch;
    return sendKeys(reply, search, await cache.armored(search));
  };
  const Id = { schema: { params: Type.Object({ id: Type.String({ maxLength: 320 }) }) } };
  app.get("/vks/v1/by-fingerprint/:id", Id, vks("fingerprint", /^[0-9A-Fa-f]{40}$/));
  app.get("/vks/v1/by-keyid/:id", Id, vks("keyId", /^[0-9A-Fa-f]{16}$/));
  app.get("/vks/v1/by-email/:id", Id, vks("email", /^[^\s@]+@[^\s@]+$/));
};

function notFound(reply: FastifyReply) {
  return reply.code(404).type("text/plain; charset=utf-8").send(`${NOT_FOUND}\n`);
}

function sendKeys(reply: FastifyReply, search: HkpSearch, armored: string | null) {
  if (armored === null) return notFound(reply);
  const name = search.kind === "email" ? "key" : search.value;
  return reply.type("application/pgp-keys").header("content-disposition", `inline; filename="${name}.asc"`).send(armored);
}

export default hkpRoutes;
