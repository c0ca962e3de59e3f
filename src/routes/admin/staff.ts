import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

/** Staff account management (admins). */
const staffRoutes: FastifyPluginAsyncTypebox = async () => {};

export default staffRoutes;
