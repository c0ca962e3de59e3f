import fp from "fastify-plugin";
import type { FastifyInstance, FastifyReply } from "fastify";
import { senderAddress } from "../../core/settings.ts";
import { staffNavigation } from "../../presenters/navigation.ts";

declare module "fastify" {
  interface FastifyReply {
    /** Renders a page with the layout's common data (CSRF token, signed-in state). */
    render(page: string, model?: Record<string, unknown>, status?: number): Promise<FastifyReply>;
  }
}

/**
 * The footer's contact address. A page that reports a failure (the database among them) still
 * renders: it then shows the sender address, as when no contact address is set.
 */
async function contactAddress(reply: FastifyReply): Promise<string | null> {
  const { settings, config } = reply.server;
  try {
    return await settings.contactAddress();
  } catch {
    return senderAddress(config.MAIL_FROM);
  }
}

async function render(app: FastifyInstance): Promise<void> {
  app.decorateReply(
    "render",
    async function renderPage(this: FastifyReply, page: string, model: Record<string, unknown> = {}, status = 200) {
      const html = await this.viewAsync(page, {
        ...model,
        contactAddress: await contactAddress(this),
        csrfToken: this.generateCsrf(),
        signedIn: this.request.applicantId !== null,
        staff: this.request.staff,
        staffNav: this.request.staff ? staffNavigation(this.request.staff.roles) : [],
      });
      return this.code(status).type("text/html; charset=utf-8").send(html);
    },
  );
}

export default fp(render, { name: "keysign-render", dependencies: ["keysign-services"] });
