import type { FastifyReply, FastifyRequest } from "fastify";

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
