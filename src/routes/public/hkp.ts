import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { machineReadableIndex, parseLookup, type HkpSearch } from "../../core/publication/hkp.ts";
import { LIMITS } from "../../core/key-policy.ts";
import { indexedKeys } from "../../services/publication.ts";
import type { OwnerUpdateOutcome } from "../../services/owner-updates.ts";
import { PublishedKeyCache } from "../../services/published-key-cache.ts";
import { machineFormBody } from "../body-rules.ts";

const Field = Type.Optional(Type.String({ maxLength: 300 }));
const LookupQuery = Type.Object({ op: Field, search: Field, options: Field, exact: Field, fingerprint: Field });

/** A keytext a little over intake's 1 MiB still reaches intake, whose message explains the limit. */
const KEYTEXT_CHARACTERS = LIMITS.maxUploadBytes + 64 * 1024;
const AddBody = Type.Object({ keytext: Type.Optional(Type.String({ maxLength: KEYTEXT_CHARACTERS })) });
/**
 * `POST /pks/add` is called by GnuPG without cookies, so it takes no CSRF token and uses no
 * session (body-rules.ts, `machineFormBody`). Bounded: every byte of the largest accepted key
 * percent-encoded, then intake's own bounds on the decoded key; and rate limited per address,
 * as each sending may cost a few dozen signature checks.
 */
const PKS_ADD = { ...machineFormBody(3 * KEYTEXT_CHARACTERS), rateLimit: { max: 30, timeWindow: 10 * 60_000 } };
const NO_KEYTEXT = "Send the armored public key in the form field keytext, as `gpg --send-keys` does. Nothing was stored.";

const NOT_FOUND = "No key is published here for that search. Certified keys are found by their full fingerprint or 16-digit key ID, and by the addresses their owners chose to publish.";

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
    const keys = await cache.lookup(query.search);
    if (keys.length === 0) return notFound(reply);
    return reply.type("text/plain; charset=utf-8").send(machineReadableIndex(await indexedKeys(app.db, keys), app.now()));
  });

  app.post("/pks/add", { schema: { body: AddBody }, config: PKS_ADD }, async (request, reply) => {
    const keytext = request.body.keytext ?? "";
    if (keytext.trim() === "") return reply.code(400).type("text/plain; charset=utf-8").send(`${NO_KEYTEXT}\n`);
    const outcome = await app.ownerUpdates.apply({ upload: new TextEncoder().encode(keytext), source: "hkp", ip: request.ip });
    return reply.type("text/plain; charset=utf-8").send(addAnswer(outcome));
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

function addAnswer(outcome: OwnerUpdateOutcome): string {
  const head = outcome.merged ? `Key ${outcome.fingerprint} was updated and is published again.` : `Key ${outcome.fingerprint}: nothing new to merge; the published key is unchanged.`;
  return `${[head, ...outcome.lines].join("\n")}\n`;
}

function notFound(reply: FastifyReply) {
  return reply.code(404).type("text/plain; charset=utf-8").send(`${NOT_FOUND}\n`);
}

function sendKeys(reply: FastifyReply, search: HkpSearch, armored: string | null) {
  if (armored === null) return notFound(reply);
  const name = search.kind === "email" ? "key" : search.value;
  return reply.type("application/pgp-keys").header("content-disposition", `inline; filename="${name}.asc"`).send(armored);
}

export default hkpRoutes;
