import path from "node:path";
import view from "@fastify/view";
import handlebars from "handlebars";
import type { FastifyInstance } from "fastify";
import { registerHelpers } from "../../presenters/helpers.ts";

export const VIEWS_DIR = path.resolve(import.meta.dirname, "../../../views");

export async function registerView(app: FastifyInstance, opts: { production: boolean }): Promise<void> {
  const engine = handlebars.create();
  registerHelpers(engine);
  await app.register(view, {
    engine: { handlebars: engine },
    root: path.join(VIEWS_DIR, "pages"),
    layout: "../layouts/main.hbs",
    viewExt: "hbs",
    production: opts.production,
    options: {
      partials: {
        field_error: "../partials/field-error.hbs",
        form_errors: "../partials/form-errors.hbs",
        csrf: "../partials/csrf.hbs",
        command: "../partials/command.hbs",
        confirm: "../partials/confirm.hbs",
        key_update_form: "../partials/key-update-form.hbs",
        key_updates_list: "../partials/key-updates-list.hbs",
        status_tracker: "../partials/status-tracker.hbs",
        master_rotation: "../partials/master-rotation.hbs",
        recertify_button: "../partials/recertify-button.hbs",
      },
    },
  });
}
