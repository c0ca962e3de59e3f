import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";

/** Review: dashboard, request list and page, decisions. */
const reviewRoutes: FastifyPluginAsyncTypebox = async () => {};

export default reviewRoutes;
