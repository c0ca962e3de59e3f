import type { FastifyPluginAsync } from "fastify";
import authRoutes from "./auth.ts";
import staffRoutes from "./staff.ts";
import reviewRoutes from "./requests.ts";
import requestListRoutes from "./request-list.ts";
import auditRoutes from "./audit.ts";
import settingsRoutes from "./settings.ts";
import revocationRoutes from "./revocations.ts";
import signingRoutes from "./signing.ts";
import publicationRoutes from "./publication.ts";
import setupChecklistRoutes from "./setup-checklist.ts";

/** The staff side, under /admin. Each file guards its own routes with the predicates of authorization.ts. */
const adminRoutes: FastifyPluginAsync = async (app) => {
  await app.register(authRoutes);
  await app.register(staffRoutes, { prefix: "/staff" });
  await app.register(reviewRoutes);
  await app.register(requestListRoutes);
  await app.register(auditRoutes);
  await app.register(settingsRoutes);
  await app.register(revocationRoutes);
  await app.register(signingRoutes);
  await app.register(publicationRoutes);
  await app.register(setupChecklistRoutes);
};

export default adminRoutes;
