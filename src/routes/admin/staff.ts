import { Type } from "@sinclair/typebox";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import type { FastifyReply } from "fastify";
import { isStaffRole, type StaffRole } from "../../core/roles.ts";
import { FormError, KeysignError, NotFoundError } from "../../errors.ts";
import { requireStaff, staffActorOf, staffOf } from "../../plugins/app/authorization.ts";
import { isStaffNotice, staffDetailModel, staffListModel, type StaffNotice } from "../../presenters/staff.ts";
import type { StaffActor } from "../../services/context.ts";

const Csrf = { _csrf: Type.Optional(Type.String()) };
const RolesField = Type.Optional(Type.Union([Type.String({ maxLength: 32 }), Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 })]));
const InviteBody = Type.Object({ ...Csrf, email: Type.String({ maxLength: 320, default: "" }), roles: RolesField });
const RolesBody = Type.Object({ ...Csrf, roles: RolesField });
const EmptyBody = Type.Object(Csrf);
const IdParams = Type.Object({ id: Type.String({ format: "uuid" }) });
const NoticeQuery = Type.Object({ done: Type.Optional(Type.String({ maxLength: 16 })), invite: Type.Optional(Type.String({ maxLength: 64 })) });

/** Checkbox values: a single box arrives as a string, several as a list; unknown words are dropped. */
function rolesFrom(value: string | string[] | undefined): StaffRole[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return [...new Set(list.filter(isStaffRole))];
}

function problemsOf(error: unknown): { status: number; problems: Array<{ field: string; message: string }> } {
  if (error instanceof FormError) return { status: error.statusCode, problems: error.problems };
  if (error instanceof KeysignError && error.statusCode < 500 && !(error instanceof NotFoundError)) {
    return { status: error.statusCode, problems: [{ field: "form", message: error.message }] };
  }
  throw error;
}

/** Staff account management: admins only. */
const staffRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook("onRequest", requireStaff("admin"));

  async function showDetail(reply: FastifyReply, id: string, meId: string, extra: Parameters<typeof staffDetailModel>[2] = {}, status = 200) {
    const member = await app.staffAuth.accounts.get(id);
    return reply.render("admin/staff/show.hbs", staffDetailModel(member, meId, extra), status);
  }

  /** Runs one account action, then shows the account with a notice, or with the refusal's message. */
  async function act(reply: FastifyReply, me: StaffActor, id: string, notice: StaffNotice, action: () => Promise<void>) {
    try {
      await action();
    } catch (error) {
      const { status, problems } = problemsOf(error);
      return showDetail(reply, id, me.id, { problems }, status);
    }
    return reply.redirect(`/admin/staff/${id}?done=${notice}`, 303);
  }

  app.get("/", { schema: { querystring: NoticeQuery } }, async (request, reply) => {
    const overview = await app.staffAuth.accounts.overview();
    const notice = isStaffNotice(request.query.done) ? request.query.done : undefined;
    return reply.render("admin/staff/index.hbs", staffListModel(overview, staffOf(request).id, { notice, inviteId: request.query.invite }));
  });

  app.post("/invite", { schema: { body: InviteBody } }, async (request, reply) => {
    const me = staffOf(request);
    const roles = rolesFrom(request.body.roles);
    try {
      const sent = await app.staffAuth.accounts.invite(staffActorOf(request), { email: request.body.email, roles });
      return reply.redirect(`/admin/staff?done=invited&invite=${encodeURIComponent(sent.id)}`, 303);
    } catch (error) {
      const { status, problems } = problemsOf(error);
      const overview = await app.staffAuth.accounts.overview();
      return reply.render("admin/staff/index.hbs", staffListModel(overview, me.id, { email: request.body.email, roles, problems }), status);
    }
  });

  app.post("/invites/:id/revoke", { schema: { params: IdParams, body: EmptyBody } }, async (request, reply) => {
    await app.staffAuth.accounts.revokeInvite(staffActorOf(request), request.params.id);
    return reply.redirect("/admin/staff?done=revoked", 303);
  });

  app.get("/:id", { schema: { params: IdParams, querystring: NoticeQuery } }, async (request, reply) => {
    const notice = isStaffNotice(request.query.done) ? request.query.done : undefined;
    return showDetail(reply, request.params.id, staffOf(request).id, { notice });
  });

  app.post("/:id/roles", { schema: { params: IdParams, body: RolesBody } }, async (request, reply) => {
    const me = staffActorOf(request);
    const roles = rolesFrom(request.body.roles);
    try {
      await app.staffAuth.accounts.changeRoles(me, request.params.id, roles);
    } catch (error) {
      const { status, problems } = problemsOf(error);
      return showDetail(reply, request.params.id, me.id, { roles, problems }, status);
    }
    return reply.redirect(`/admin/staff/${request.params.id}?done=roles`, 303);
  });

  const actions = [
    ["disable", "disabled", (me: StaffActor, id: string) => app.staffAuth.accounts.disable(me, id)],
    ["enable", "enabled", (me: StaffActor, id: string) => app.staffAuth.accounts.enable(me, id)],
    ["reset-second-factor", "reset", (me: StaffActor, id: string) => app.staffAuth.accounts.resetSecondFactor(me, id)],
  ] as const;
  for (const [path, notice, action] of actions) {
    app.post(`/:id/${path}`, { schema: { params: IdParams, body: EmptyBody } }, async (request, reply) => {
      const me = staffActorOf(request);
      return act(reply, me, request.params.id, notice, () => action(me, request.params.id));
    });
  }
};

export default staffRoutes;
