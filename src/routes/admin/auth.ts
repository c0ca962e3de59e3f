import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

/** Staff sign-in (password + TOTP), enrolment, setup and invitation links. */
const authRoutes: FastifyPluginAsyncTypebox = async () => {};

export default authRoutes;
