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
        // The staff request page's sections (views/pages/admin/requests/show.hbs).
        review_outcome: "../partials/review/outcome.hbs",
        review_key_history: "../partials/review/key-history.hbs",
        review_summary: "../partials/review/summary.hbs",
        review_decision: "../partials/review/decision.hbs",
        review_agreement: "../partials/review/agreement.hbs",
        review_declarations: "../partials/review/declarations.hbs",
        review_key_details: "../partials/review/key-details.hbs",
        review_certification: "../partials/review/certification.hbs",
        review_notes: "../partials/review/notes.hbs",
        review_timeline: "../partials/review/timeline.hbs",
        renewal_panel: "../partials/renewal-panel.hbs",
        renewal_history: "../partials/renewal-history.hbs",
        master_rotation: "../partials/master-rotation.hbs",
        recertify_button: "../partials/recertify-button.hbs",
      },
    },
  });
}
