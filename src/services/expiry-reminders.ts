/**
 * Reminders before certifications and keys expire, and the weekly staff digest of what expires
 * soon (docs/decisions.md, "Expiry reminders"). Each reminder is recorded in the transaction
 * that queues its email, so it is queued once however often the check runs; the check's last
 * run is kept so a restarted portal catches up at once.
 */
import { formatFingerprint } from "../core/key-policy.ts";
import { currentCertifications, daysLeft, DIGEST_HORIZON_DAYS, dueThreshold, expiresWithin, type CertifiedRequest } from "../core/expiry.ts";
import { keyIndexFacts } from "../core/publication/key-facts.ts";
import { keyserverAddress } from "../core/publication/hkp.ts";
import { findCertifiedRequests, findDigestRecipients, readMark, recordReminder, writeMark, type ReminderRecord } from "../repositories/expiry.ts";
import { enqueueEmail } from "../repositories/outbox.ts";
import { findPublishedKeys } from "../repositories/publication.ts";
import { formatDate } from "../presenters/helpers.ts";
import { messageIdDomain, type ServiceContext } from "./context.ts";
import { emailCommon, renderEmail, type RenderedEmail } from "./mail-templates.ts";

/** How often the check runs while the portal is up. */
export const EXPIRY_CHECK_INTERVAL_MS = 60 * 60_000;
/** The staff digest goes out once per this period. */
export const EXPIRY_DIGEST_INTERVAL_MS = 7 * 86_400_000;
const LAST_RUN = "expiryCheckRunAt";
const LAST_DIGEST = "expiryDigestSentAt";

export interface ExpiryRunResult {
  reminders: number;
  digests: number;
}

export class ExpiryService {
  constructor(private readonly ctx: ServiceContext) {}

  /** At start: runs the check when the last one is older than its interval (or never ran). */
  async runIfDue(): Promise<ExpiryRunResult | null> {
    const last = await readMark(this.ctx.db, LAST_RUN);
    if (last && this.ctx.now().getTime() - last.getTime() < EXPIRY_CHECK_INTERVAL_MS) return null;
    return this.run();
  }

  /** Queues every reminder due now that was not queued before, and the digest when a week has passed. */
  async run(): Promise<ExpiryRunResult> {
    const now = this.ctx.now();
    const current = currentCertifications(await findCertifiedRequests(this.ctx.db));
    let reminders = 0;
    for (const certification of current) {
      if (await this.remindCertification(certification, now)) reminders++;
    }
    for (const key of await this.keyExpiries(current, now)) {
      if (await this.remindKey(key.certification, key.expiresAt, now)) reminders++;
    }
    const digests = await this.sendDigest(current, now);
    await writeMark(this.ctx.db, LAST_RUN, now);
    if (reminders + digests > 0) this.ctx.mailQueued();
    return { reminders, digests };
  }

  /** Certifications of current keys expiring within the digest's horizon: the dashboard's count. */
  async expiringSoon(): Promise<{ count: number; lastRun: Date | null }> {
    const now = this.ctx.now();
    const current = currentCertifications(await findCertifiedRequests(this.ctx.db));
    return { count: current.filter((c) => expiresWithin(c.expiresAt, now, DIGEST_HORIZON_DAYS)).length, lastRun: await readMark(this.ctx.db, LAST_RUN) };
  }

  private async remindCertification(certification: CertifiedRequest, now: Date): Promise<boolean> {
    const threshold = dueThreshold(certification.expiresAt, now);
    if (threshold === null || certification.expiresAt === null) return false;
    const { PUBLIC_URL } = this.ctx.config;
    const email = renderEmail("certification-expiring", {
      ...this.expiryFacts(certification.fingerprint, certification.expiresAt, now),
      requestsLink: `${PUBLIC_URL}/requests`,
      renewLink: `${PUBLIC_URL}/requests/${certification.requestId}/renew`,
      requestLink: `${PUBLIC_URL}/requests/${certification.requestId}`,
    }, await emailCommon(this.ctx.db, this.ctx.config));
    const reminder = { kind: "certification", subject: certification.requestId, expiresAt: certification.expiresAt, thresholdDays: threshold, recipient: certification.ownerEmail } as const;
    return this.queueOnce(reminder, email, now);
  }

  private async remindKey(certification: CertifiedRequest, expiresAt: Date, now: Date): Promise<boolean> {
    const threshold = dueThreshold(expiresAt, now);
    if (threshold === null) return false;
    const { fingerprint } = certification;
    const email = renderEmail("key-expiring", {
      ...this.expiryFacts(fingerprint, expiresAt, now),
      extendCommand: `gpg --quick-set-expire ${fingerprint} 2y`,
      subkeysCommand: `gpg --quick-set-expire ${fingerprint} 2y '*'`,
      sendCommand: `gpg --keyserver ${keyserverAddress(this.ctx.config.PUBLIC_URL)} --send-keys ${fingerprint}`,
      requestLink: `${this.ctx.config.PUBLIC_URL}/requests/${certification.requestId}`,
      keyLink: `${this.ctx.config.PUBLIC_URL}/keys/${fingerprint}`,
    }, await emailCommon(this.ctx.db, this.ctx.config));
    return this.queueOnce({ kind: "key", subject: fingerprint, expiresAt, thresholdDays: threshold, recipient: certification.ownerEmail }, email, now);
  }

  private expiryFacts(fingerprint: string, expiresAt: Date, now: Date) {
    const days = daysLeft(expiresAt, now);
    return { fingerprint: formatFingerprint(fingerprint), expiresOn: formatDate(expiresAt), daysLeft: days, oneDay: days === 1 };
  }

  private async queueOnce(reminder: ReminderRecord, email: RenderedEmail, now: Date): Promise<boolean> {
    return this.ctx.db.$transaction(async (tx) => {
      if (!(await recordReminder(tx, reminder, now))) return false;
      await enqueueEmail(tx, { ...email, recipient: reminder.recipient }, messageIdDomain(this.ctx.config), now);
      return true;
    });
  }

  /**
   * The self-signature expiry of each current, unexpired certification's key, read from the
   * published copy (owner updates included, so an extended key counts as extended).
   */
  private async keyExpiries(current: readonly CertifiedRequest[], now: Date): Promise<Array<{ certification: CertifiedRequest; expiresAt: Date }>> {
    const live = new Map(current.filter((c) => c.expiresAt === null || c.expiresAt > now).map((c) => [c.fingerprint, c]));
    if (live.size === 0) return [];
    const found: Array<{ certification: CertifiedRequest; expiresAt: Date }> = [];
    for (const source of await findPublishedKeys(this.ctx.db)) {
      const certification = live.get(source.fingerprint);
      if (!certification) continue;
      const { expiresAt } = await keyIndexFacts(source.canonicalKey);
      if (expiresAt) found.push({ certification, expiresAt });
    }
    return found;
  }

  /** One digest per week to reviewers and admins; the week's mark moves with the emails. */
  private async sendDigest(current: readonly CertifiedRequest[], now: Date): Promise<number> {
    const expiring = current
      .filter((c) => expiresWithin(c.expiresAt, now, DIGEST_HORIZON_DAYS))
      .sort((a, b) => (a.expiresAt?.getTime() ?? 0) - (b.expiresAt?.getTime() ?? 0));
    return this.ctx.db.$transaction(async (tx) => {
      const last = await readMark(tx, LAST_DIGEST);
      if (last && now.getTime() - last.getTime() < EXPIRY_DIGEST_INTERVAL_MS) return 0;
      await writeMark(tx, LAST_DIGEST, now);
      if (expiring.length === 0) return 0;
      const email = renderEmail("expiry-digest", {
        count: expiring.length,
        horizon: DIGEST_HORIZON_DAYS,
        dashboard: `${this.ctx.config.PUBLIC_URL}/admin`,
        certifications: expiring.map((c) => ({
          fingerprint: formatFingerprint(c.fingerprint),
          owner: c.ownerEmail,
          expiresOn: formatDate(c.expiresAt),
          link: `${this.ctx.config.PUBLIC_URL}/admin/requests/${c.requestId}`,
        })),
      }, await emailCommon(tx, this.ctx.config));
      const recipients = await findDigestRecipients(tx);
      for (const recipient of recipients) await enqueueEmail(tx, { ...email, recipient }, messageIdDomain(this.ctx.config), now);
      return recipients.length;
    });
  }
}
