import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { NewSession, StaffPrincipal } from "../../services/auth.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The signed-in applicant, if any. */
    applicantId: string | null;
    /** The signed-in staff member, only once both factors are done. */
    staff: StaffPrincipal | null;
    /** A staff member who gave the password but not yet the second factor. */
    staffPending: StaffPrincipal | null;
    /** The server-side session row behind the cookie, if any. */
    sessionId: string | null;
  }
  interface FastifyReply {
    startSession(session: NewSession): void;
    endSession(): Promise<void>;
  }
}

export const SESSION_COOKIE = "ks_session";

/** Server-side sessions: the cookie holds a random token, the database its hash, so logout really ends it. */
async function session(app: FastifyInstance): Promise<void> {
  app.decorateRequest("applicantId", null);
  app.decorateRequest("staff", null);
  app.decorateRequest("staffPending", null);
  app.decorateRequest("sessionId", null);

  app.addHook("onRequest", async (request: FastifyRequest) => {
    const token = request.cookies[SESSION_COOKIE];
    if (!token) return;
    const found = await app.auth.findSession(token);
    if (!found) return;
    request.sessionId = found.sessionId;
    if (found.kind === "applicant") request.applicantId = found.applicantId;
    else if (found.stage === "full") request.staff = found.staff;
    else request.staffPending = found.staff;
  });

  app.decorateReply("startSession", function startSession(this: FastifyReply, created: NewSession) {
    this.setCookie(SESSION_COOKIE, created.token, {
      path: "/",
      httpOnly: true,
      sameSite: "lax",
      secure: app.config.secureCookies,
      expires: created.expiresAt,
    });
  });

  app.decorateReply("endSession", async function endSession(this: FastifyReply) {
    const token = this.request.cookies[SESSION_COOKIE];
    if (token) await app.auth.endSession(token);
    this.clearCookie(SESSION_COOKIE, { path: "/" });
  });
}

export default fp(session, { name: "keysign-session", dependencies: ["keysign-services"] });
