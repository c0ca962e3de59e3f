import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { holdsAnyRole, ROLE_LABELS, type StaffRole } from "../../core/roles.ts";
import { KeysignError } from "../../errors.ts";
import type { StaffActor } from "../../services/context.ts";

/**
 * Named authorisation predicates, used as route `preHandler`s. Handlers never check roles
 * themselves. Ownership of a request is enforced by the services, which look requests up
 * by (id, applicant) so that another applicant's request is simply not found (404).
 */
export async function requireApplicant(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.applicantId) return;
  const next = request.method === "GET" ? `?next=${encodeURIComponent(request.url)}` : "";
  await reply.redirect(`/sign-in${next}`, 303);
}

/** The signed-in applicant's id; only call behind `requireApplicant`. */
export function applicantOf(request: FastifyRequest): string {
  if (!request.applicantId) throw new Error("applicantOf called on a route without requireApplicant");
  return request.applicantId;
}

export class ForbiddenError extends KeysignError {
  constructor(message: string) {
    super("KEYSIGN_ERR_FORBIDDEN", message, 403);
  }
}

/**
 * Staff with a fully authenticated session (password and second factor) holding at least
 * one of `roles` (any staff member when none is given). Anybody else is sent to the staff
 * sign-in page; staff without the role get 403 with the role named.
 */
export function requireStaff(...roles: StaffRole[]): preHandlerAsyncHookHandler {
  return async function staffOnly(request, reply) {
    const staff = request.staff;
    if (!staff) {
      // Half signed in (password only): the second factor comes before anything else.
      await reply.redirect(request.staffPending ? "/admin/login/totp" : "/admin/login", 303);
      return;
    }
    if (!holdsAnyRole(staff.roles, roles)) {
      throw new ForbiddenError(`This page needs the ${roles.map((r) => ROLE_LABELS[r]).join(" or ")} role. Ask an admin if you need it.`);
    }
  };
}

/** The signed-in staff member as the services take them; only call behind `requireStaff`. */
export function staffActorOf(request: FastifyRequest): StaffActor {
  const { id, email } = staffOf(request);
  return { id, email, ip: request.ip };
}

/** The signed-in staff member; only call behind `requireStaff`. */
export function staffOf(request: FastifyRequest): { id: string; email: string; roles: StaffRole[] } {
  if (!request.staff) throw new Error("staffOf called on a route without requireStaff");
  return request.staff;
}

/** Staff between the password and the second factor: only the code and enrolment pages take them. */
export async function requirePendingStaff(request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.staffPending) return;
  await reply.redirect(request.staff ? "/admin" : "/admin/login", 303);
}

/** The half-signed-in staff member and their session; only call behind `requirePendingStaff`. */
export function pendingStaffOf(request: FastifyRequest): { staffId: string; sessionId: string } {
  if (!request.staffPending || !request.sessionId) throw new Error("pendingStaffOf called on a route without requirePendingStaff");
  return { staffId: request.staffPending.id, sessionId: request.sessionId };
}
