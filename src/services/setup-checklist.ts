import type { StaffRole } from "../core/roles.ts";
import { setupItems, type SetupFacts, type SetupItem } from "../core/setup-checklist.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import { readSettings } from "../repositories/settings.ts";
import { countActiveReviewers, findLastDelivery, isChecklistHidden, setChecklistHidden } from "../repositories/setup-checklist.ts";
import type { ServiceContext, StaffActor } from "./context.ts";

export interface SetupChecklist {
  facts: SetupFacts;
  items: SetupItem[];
  /** An admin chose to hide it before everything was done. */
  hidden: boolean;
}

/** The admin's setup checklist: what the portal still needs before it can certify anyone. */
export class SetupChecklistService {
  constructor(private readonly ctx: ServiceContext) {}

  /** For the dashboard: the checklist when `roles` include admin, else null (nobody else can act on it). */
  async forDashboard(roles: readonly StaffRole[]): Promise<SetupChecklist | null> {
    if (!roles.includes("admin")) return null;
    const [settings, activeReviewers, lastDelivery, hidden] = await Promise.all([
      readSettings(this.ctx.db),
      countActiveReviewers(this.ctx.db),
      findLastDelivery(this.ctx.db),
      isChecklistHidden(this.ctx.db),
    ]);
    const facts: SetupFacts = {
      masterFingerprint: settings.masterFingerprint,
      certificationDomain: settings.certificationDomain,
      activeReviewers,
      approvalsRequired: settings.approvalsRequired,
      smtpConfigured: this.ctx.config.SMTP_URL !== "",
      // Without SMTP every email is "sent" to a file, which says nothing about the mail server.
      lastDelivery: this.ctx.config.SMTP_URL === "" ? null : lastDelivery,
      signingSchedule: this.ctx.config.SIGNING_SCHEDULE,
    };
    return { facts, items: setupItems(facts), hidden };
  }

  /** Hides or shows the checklist for every admin; audited like any settings change. */
  async setHidden(hidden: boolean, staff: StaffActor): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      await setChecklistHidden(tx, hidden, staff.id, now);
      await appendAuditEvent(tx, { actorType: "staff", actorId: staff.id, ip: staff.ip, action: "settings.setup_checklist", data: { hidden } }, now);
    });
  }
}
