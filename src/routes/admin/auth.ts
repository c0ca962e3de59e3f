import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { FormError, KeysignError } from "../../errors.ts";
import { pendingStaffOf, requirePendingStaff } from "../../plugins/app/authorization.ts";
import {
  acceptLinkModel,
  enrolmentModel,
  loginModel,
  recoveryCodesModel,
  secondFactorModel,
} from "../../presenters/staff.ts";
import type { StaffLinkPurpose } from "../../repositories/staff.ts";
import type { NewSession } from "../../services/auth.ts";
import { LoginThrottledError } from "../../services/staff-auth.ts";

const Csrf = { _csrf: Type.Optional(Type.String()) };
const LoginBody = Type.Object({ ...Csrf, email: Type.String({ maxLength: 320, default: "" }), password: Type.String({ maxLength: 1024, default: "" }) });
const CodeBody = Type.Object({ ...Csrf, code: Type.String({ maxLength: 64, default: "" }) });
const TokenQuery = Type.Object({ token: Type.String({ maxLength: 64, default: "" }) });
const AcceptBody = Type.Object({
  ...Csrf,
  token: Type.String({ maxLength: 64, default: "" }),
  email: Type.String({ maxLength: 320, default: "" }),
  password: Type.String({ maxLength: 1024, default: "" }),
  passwordAgain: Type.String({ maxLength: 1024, default: "" }),
});
const EmptyBody = Type.Object(Csrf);

/** Expected refusals re-render the form with their message; anything else goes to the error handler. */
function refusal(error: unknown): { status: number; problems: Array<{ field: string; message: string }> } {
  if (error instanceof FormError) return { status: error.statusCode, problems: error.problems };
  if (error instanceof KeysignError && error.statusCode < 500) return { status: error.statusCode, problems: [{ field: "form", message: error.message }] };
  throw error;
}

function retryAfter(reply: FastifyReply, error: unknown): void {
  if (error instanceof LoginThrottledError) reply.header("Retry-After", String(error.retryAfterSeconds));
}

/** Pages that show a secret (the TOTP seed, recovery codes) must not be kept by any cache. */
function noStore(reply: FastifyReply): void {
  reply.header("Cache-Control", "no-store");
}

/** Staff sign-in (password, then TOTP or a recovery code), enrolment, setup and invitation links, sign-out. */
const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  /** A new session token at each step; the browser's earlier session, if any, ends. */
  async function switchSession(reply: FastifyReply, session: NewSession): Promise<void> {
    await reply.endSession();
    reply.startSession(session);
  }

  app.get("/login", async (request, reply) => {
    if (request.staff) return reply.redirect("/admin", 303);
    return reply.render("admin/auth/login.hbs", loginModel());
  });

  app.post("/login", { schema: { body: LoginBody } }, async (request, reply) => {
    const { email, password } = request.body;
    try {
      const { session, enrolled } = await app.staffAuth.login({ email, password, ip: request.ip });
      await switchSession(reply, session);
      return reply.redirect(enrolled ? "/admin/login/totp" : "/admin/enrol", 303);
    } catch (error) {
      const { status, problems } = refusal(error);
      retryAfter(reply, error);
      return reply.render("admin/auth/login.hbs", loginModel({ email, problems }), status);
    }
  });

  app.get("/login/totp", { onRequest: requirePendingStaff }, async (request, reply) => {
    const { staffId } = pendingStaffOf(request);
    if (!(await app.staffAuth.isEnrolled(staffId))) return reply.redirect("/admin/enrol", 303);
    return reply.render("admin/auth/totp.hbs", secondFactorModel());
  });

  app.post("/login/totp", { schema: { body: CodeBody }, onRequest: requirePendingStaff }, async (request, reply) => {
    const { staffId, sessionId } = pendingStaffOf(request);
    try {
      const session = await app.staffAuth.verifySecondFactor({ staffId, sessionId, code: request.body.code, ip: request.ip });
      await switchSession(reply, session);
      return reply.redirect("/admin", 303);
    } catch (error) {
      const { status, problems } = refusal(error);
      retryAfter(reply, error);
      return reply.render("admin/auth/totp.hbs", secondFactorModel(problems), status);
    }
  });

  app.get("/enrol", { onRequest: requirePendingStaff }, async (request, reply) => {
    const enrolment = await app.staffAuth.enrolment(pendingStaffOf(request).staffId);
    if (!enrolment) return reply.redirect("/admin/login/totp", 303);
    noStore(reply);
    return reply.render("admin/auth/enrol.hbs", await enrolmentModel(enrolment));
  });

  app.post("/enrol", { schema: { body: CodeBody }, onRequest: requirePendingStaff }, async (request, reply) => {
    const { staffId, sessionId } = pendingStaffOf(request);
    noStore(reply);
    try {
      const done = await app.staffAuth.confirmEnrolment({ staffId, sessionId, code: request.body.code, ip: request.ip });
      await switchSession(reply, done.session);
      // Shown once, straight from this response: only their hashes are stored.
      return reply.render("admin/auth/recovery-codes.hbs", recoveryCodesModel(done.recoveryCodes));
    } catch (error) {
      const { status, problems } = refusal(error);
      const enrolment = await app.staffAuth.enrolment(staffId);
      if (!enrolment) return reply.redirect("/admin/login/totp", 303);
      return reply.render("admin/auth/enrol.hbs", await enrolmentModel(enrolment, problems), status);
    }
  });

  // Setup and invitation links open a page with a form; only its POST uses the link,
  // so a mail scanner that prefetches the link does not spend it.
  for (const [path, purpose] of [["/setup", "staff-setup"], ["/invite", "staff-invite"]] as const satisfies ReadonlyArray<readonly [string, StaffLinkPurpose]>) {
    app.get(path, { schema: { querystring: TokenQuery } }, async (request, reply) => {
      const link = await app.staffAuth.describeLink(request.query.token, purpose);
      return reply.render("admin/auth/accept.hbs", acceptLinkModel(link, request.query.token));
    });

    app.post(path, { schema: { body: AcceptBody } }, async (request, reply) => {
      const { token, email, password, passwordAgain } = request.body;
      try {
        const session = await app.staffAuth.acceptLink({ token, purpose, email, password, passwordAgain, ip: request.ip });
        await switchSession(reply, session);
        return reply.redirect("/admin/enrol", 303);
      } catch (error) {
        if (!(error instanceof FormError)) throw error;
        const link = await app.staffAuth.describeLink(token, purpose);
        return reply.render("admin/auth/accept.hbs", acceptLinkModel(link, token, { email, problems: error.problems }), error.statusCode);
      }
    });
  }

  app.post("/logout", { schema: { body: EmptyBody } }, async (_request, reply) => {
    await reply.endSession();
    return reply.redirect("/admin/login", 303);
  });
};

export default authRoutes;
