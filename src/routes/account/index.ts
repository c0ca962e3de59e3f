import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { KeysignError } from "../../errors.ts";
import { applicantOf, requireApplicant } from "../../plugins/app/authorization.ts";
import { accountModel, removeAddressModel } from "../../presenters/account.ts";
import { LINK_TTL_MINUTES } from "../../services/auth.ts";
import keyUpdateRoutes from "./key-updates.ts";

const AddressBody = Type.Object({ _csrf: Type.Optional(Type.String()), address: Type.String({ maxLength: 320, default: "" }) });
const AddressQuery = Type.Object({ address: Type.String({ maxLength: 320, default: "" }) });
const RemoveBody = Type.Object({ _csrf: Type.Optional(Type.String()), address: Type.String({ maxLength: 320, default: "" }), confirm: Type.Optional(Type.String({ maxLength: 8 })) });
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
    const addresses = await app.applicantAddresses.list(applicantOf(request));
    return reply.render("account/index.hbs", accountModel(addresses, {}));
  });

  app.post("/addresses", { schema: { body: AddressBody }, onRequest: requireApplicant }, async (request, reply) => {
    const applicantId = applicantOf(request);
    try {
      const address = await app.auth.requestAddressConfirmation({ applicantId, address: request.body.address, ip: request.ip });
      const addresses = await app.applicantAddresses.list(applicantId);
      return reply.render("account/index.hbs", accountModel(addresses, { sentTo: address, minutes: LINK_TTL_MINUTES }));
    } catch (error) {
      if (!(error instanceof KeysignError) || error.statusCode >= 500) throw error;
      const addresses = await app.applicantAddresses.list(applicantId);
      const problems = [{ field: "address", message: error.message }];
      return reply.render("account/index.hbs", accountModel(addresses, { address: request.body.address, problems }), error.statusCode);
    }
  });

  // Removing an address asks first, on its own page, and says what follows (or why it stays).
  app.get("/addresses/remove", { schema: { querystring: AddressQuery }, onRequest: requireApplicant }, async (request, reply) => {
    const entry = await app.applicantAddresses.find(applicantOf(request), request.query.address);
    return reply.render("account/remove-address.hbs", removeAddressModel(entry, []));
  });

  app.post("/addresses/remove", { schema: { body: RemoveBody }, onRequest: requireApplicant }, async (request, reply) => {
    const applicantId = applicantOf(request);
    const { address } = request.body;
    if (request.body.confirm !== "yes") {
      const problems = [{ field: "confirm", code: "KEYSIGN_ERR_NOT_CONFIRMED", message: "Tick the box to confirm that you want to remove this address." }];
      return reply.render("account/remove-address.hbs", removeAddressModel(await app.applicantAddresses.find(applicantId, address), problems), 400);
    }
    try {
      await app.applicantAddresses.remove(applicantId, address, request.ip);
    } catch (error) {
      if (!(error instanceof KeysignError) || error.statusCode >= 500 || error.statusCode === 404) throw error;
      const problems = [{ field: "form", code: error.code, message: error.message }];
      return reply.render("account/remove-address.hbs", removeAddressModel(await app.applicantAddresses.find(applicantId, address), problems), error.statusCode);
    }
    return reply.render("account/index.hbs", accountModel(await app.applicantAddresses.list(applicantId), { removed: address }));
  });
};

export default accountRoutes;
