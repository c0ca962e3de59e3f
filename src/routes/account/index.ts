import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { KeysignError } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import { accountModel } from "../../presenters/account.ts";
import { listAddresses } from "../../repositories/applicants.ts";
import { LINK_TTL_MINUTES } from "../../services/auth.ts";
import keyUpdateRoutes from "./key-updates.ts";

const AddressBody = Type.Object({ _csrf: Type.Optional(Type.String()), address: Type.String({ maxLength: 320, default: "" }) });
const TokenQuery = Type.Object({ token: Type.String({ maxLength: 64, default: "" }) });
const TokenBody = Type.Object({ _csrf: Type.Optional(Type.String()), token: Type.String({ maxLength: 64, default: "" }) });

const accountRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // The owner's updates of a certified key: /account/requests/:id/key-update.
  await app.register(keyUpdateRoutes);

  // Confirmation links are opened from the mailbox being confirmed, which may be another
  // device: possession of the link is the proof, so those two routes need no session.
  app.get("/addresses/confirm", { schema: { querystring: TokenQuery } }, async (request, reply) => {
    const link = await app.auth.describeLink(request.query.token, "confirm-address");
    return reply.render("account/confirm-address.hbs", { title: "Confirm address", token: request.query.token, ...link });
  });

  app.post("/addresses/confirm", { schema: { body: TokenBody } }, async (request, reply) => {
    const { address } = await app.auth.confirmAddress(request.body.token, request.ip);
    return reply.render("account/address-confirmed.hbs", { title: "Address confirmed", address });
  });

  app.get("/", { onRequest: requireApplicant }, async (request, reply) => {
    const addresses = await listAddresses(app.db, applicantOf(request));
    return reply.render("account/index.hbs", accountModel(addresses, {}));
  });

  app.post("/addresses", { schema: { body: AddressBody }, onRequest: requireApplicant }, async (request, reply) => {
    const applicantId = applicantOf(request);
    try {
      const address = await app.auth.requestAddressConfirmation({ applicantId, address: request.body.address, ip: request.ip });
      const addresses = await listAddresses(app.db, applicantId);
      return reply.render("account/index.hbs", accountModel(addresses, { sentTo: address, minutes: LINK_TTL_MINUTES }));
    } catch (error) {
      if (!(error instanceof KeysignError) || error.statusCode >= 500) throw error;
      const addresses = await listAddresses(app.db, applicantId);
      const problems = [{ field: "address", message: error.message }];
      return reply.render("account/index.hbs", accountModel(addresses, { address: request.body.address, problems }), error.statusCode);
    }
  });
};

export default accountRoutes;
