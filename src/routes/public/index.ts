import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { LINK_TTL_MINUTES } from "../../services/auth.ts";
import { KeysignError } from "../../errors.ts";
import { acceptedKeyPolicy } from "../../core/key-policy.ts";
import { landingModel } from "../../presenters/landing.ts";

const SignInBody = Type.Object({
  _csrf: Type.Optional(Type.String()),
  address: Type.String({ maxLength: 320, default: "" }),
});
const TokenQuery = Type.Object({ token: Type.String({ maxLength: 64, default: "" }) });
const TokenBody = Type.Object({ _csrf: Type.Optional(Type.String()), token: Type.String({ maxLength: 64, default: "" }) });

export default async function publicRoutes(app: FastifyInstance): Promise<void> {
  app.get("/", async (_request, reply) => {
    const settings = await app.settings.read();
    const model = landingModel({ policy: acceptedKeyPolicy(app.config.MIN_RSA_BITS), approvalsRequired: settings.approvalsRequired, schedule: app.config.SIGNING_SCHEDULE });
    return reply.render("public/landing.hbs", model);
  });

  app.get("/sign-in", async (request, reply) => {
    if (request.applicantId) return reply.redirect("/requests", 303);
    return reply.render("public/sign-in.hbs", { title: "Sign in" });
  });

  app.post(
    "/sign-in",
    {
      schema: { body: SignInBody },
      config: { rateLimit: { max: app.config.SIGNIN_RATE_PER_IP, timeWindow: LINK_TTL_MINUTES * 60_000 } },
    },
    async (request, reply) => {
      const { address } = request.body as { address: string };
      try {
        await app.auth.requestSignInLink({ address, ip: request.ip });
      } catch (error) {
        if (!(error instanceof KeysignError) || error.statusCode !== 400) throw error;
        return reply.render("public/sign-in.hbs", { title: "Sign in", address, problems: [{ field: "address", message: error.message }] }, 400);
      }
      return reply.render("public/sign-in-sent.hbs", { title: "Check your email", minutes: LINK_TTL_MINUTES });
    },
  );

  // Opening the link only shows a button: mail scanners that prefetch links must not use them up.
  app.get("/sign-in/link", { schema: { querystring: TokenQuery } }, async (request, reply) => {
    const { token } = request.query as { token: string };
    const link = await app.auth.describeLink(token, "sign-in");
    return reply.render("public/sign-in-confirm.hbs", { title: "Sign in", token, address: link.address });
  });

  app.post("/sign-in/link", { schema: { body: TokenBody } }, async (request, reply) => {
    const { token } = request.body as { token: string };
    const created = await app.auth.completeSignIn(token, request.ip);
    // A fresh session id at every sign-in; any session this browser had before is ended.
    await reply.endSession();
    reply.startSession(created);
    return reply.redirect("/requests", 303);
  });

  app.post("/sign-out", { schema: { body: Type.Object({ _csrf: Type.Optional(Type.String()) }) } }, async (_request, reply) => {
    await reply.endSession();
    return reply.redirect("/", 303);
  });
}
