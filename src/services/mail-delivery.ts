import { writeFile, rename } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import type { FastifyBaseLogger } from "fastify";
import type { Db } from "../db/client.ts";
import { claimDueEmail, markEmail, releaseAllClaims, releaseEmail, wakeWaitingEmails, type OutboxRow } from "../repositories/outbox.ts";
import { SENSITIVE_TEMPLATES, type EmailTemplate } from "./mail-templates.ts";

export interface MailDeliveryOptions {
  db: Db;
  log: FastifyBaseLogger;
  /** smtp:// or smtps:// URL; empty writes .eml files to `mailDir` instead. */
  smtpUrl: string;
  from: string;
  mailDir: string;
  /** The longest one send may take, from connecting to the server's last answer; then it is abandoned and retried later. */
  timeoutSeconds: number;
  /** How many emails are sent at the same time. */
  concurrency: number;
  now?: () => Date;
}

/** Retry schedule: 30 s doubling to at most an hour; after this many attempts the email is failed for staff to see. */
export const MAX_ATTEMPTS = 12;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 60 * 60_000;
/**
 * How long a claimed email stays claimed if the process dies while sending it; the next worker
 * to start releases it at once. It outlasts any send, which SMTP_TIMEOUT_SECONDS caps at 2 minutes.
 */
const LEASE_MS = 5 * 60_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/**
 * When a failed email is tried again: after the backoff, but never later than halfway to its
 * expiry, so a one-time link that failed during an outage is retried while it still works.
 */
function retryAt(now: Date, attempts: number, expiresAt: Date | null): Date {
  const backoff = now.getTime() + retryDelayMs(attempts);
  if (!expiresAt) return new Date(backoff);
  return new Date(Math.min(backoff, now.getTime() + (expiresAt.getTime() - now.getTime()) / 2));
}

type Send = (row: OutboxRow, signal: AbortSignal) => Promise<void>;

/**
 * Delivers the outbox with up to `concurrency` sends at once. Each send is abandoned after the
 * SMTP timeout, so a server that stalls holds one slot for at most that long, and stop()
 * interrupts every send in flight and puts its email back in the queue: shutdown never waits for SMTP.
 */
export class MailDelivery {
  private readonly send: Send;
  private readonly now: () => Date;
  private readonly sendLimitMs: number;
  /** Aborted by stop(): interrupts the sends in flight and stops claiming. */
  private readonly stopping = new AbortController();
  private running: Promise<number> | null = null;
  /** Set when deliverDue() is called during a pass: look for due emails again. */
  private rescan = false;
  /** Resumes the pass when a send finishes or deliverDue() is called. */
  private resume: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  /**
   * Set by a failed send that was not a refusal of its recipient: the next success means the
   * server answers again, and every email waiting out a backoff becomes due. A new worker starts
   * with it set, since the emails waiting may have failed in an earlier process.
   */
  private serverTrouble = true;
  /**
   * Emails a success has made due, until they are handled for good: each is woken once, so one
   * the server chokes on keeps to its backoff instead of being retried after every other success.
   */
  private readonly woken = new Set<string>();

  constructor(private readonly options: MailDeliveryOptions) {
    this.now = options.now ?? (() => new Date());
    this.sendLimitMs = options.timeoutSeconds * 1000;
    this.send = options.smtpUrl ? smtpSender(options) : fileSender(options);
  }

  /**
   * Delivers everything due now; a call during a pass joins it and makes it look for due emails
   * again. Resolves once nothing due is left and no send is in flight, with how many were handled.
   */
  deliverDue(): Promise<number> {
    if (this.stopping.signal.aborted) return Promise.resolve(0);
    if (this.running) {
      this.rescan = true;
      this.resume?.();
      return this.running;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Releases claims left by a process that died mid-send, then delivers every `intervalMs`. */
  async start(intervalMs = 2_000): Promise<void> {
    const released = await releaseAllClaims(this.options.db, this.now());
    if (released > 0) this.options.log.warn({ released }, "released emails claimed by a process that stopped mid-send; they may reach their recipients twice");
    this.timer = setInterval(() => void this.deliverDue(), intervalMs);
    this.timer.unref();
    void this.deliverDue();
  }

  /** Stops delivering: sends in flight are interrupted and their emails are due again at the next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopping.abort();
    this.resume?.();
    await this.running;
  }

  private async pass(): Promise<number> {
    const sends = new Set<Promise<void>>();
    let handled = 0;
    for (;;) {
      this.rescan = false;
      while (sends.size < this.options.concurrency && !this.stopping.signal.aborted) {
        const row = await this.claim();
        if (!row) break;
        const send: Promise<void> = this.deliverOne(row)
          .catch((err: unknown) => this.options.log.error({ err, emailId: row.id }, "mail delivery could not record its outcome"))
          .finally(() => {
            sends.delete(send);
            handled += 1;
            this.resume?.();
          });
        sends.add(send);
      }
      const canClaim = sends.size < this.options.concurrency && !this.stopping.signal.aborted;
      if (this.rescan && canClaim) continue;
      if (sends.size === 0) return handled;
      await new Promise<void>((resolve) => (this.resume = resolve));
      this.resume = null;
    }
  }

  private async claim(): Promise<OutboxRow | null> {
    try {
      return await claimDueEmail(this.options.db, this.now(), LEASE_MS);
    } catch (err) {
      // The next pass tries again; the emails stay in the outbox.
      this.options.log.error({ err }, "could not claim an email to deliver");
      return null;
    }
  }

  private async deliverOne(row: OutboxRow): Promise<void> {
    const { db, log } = this.options;
    const scrub = SENSITIVE_TEMPLATES.has(row.template as EmailTemplate);
    if (row.expiresAt && row.expiresAt <= this.now()) {
      this.woken.delete(row.id);
      await markEmail(db, row.id, { status: "expired", scrub });
      return;
    }
    const deadline = AbortSignal.timeout(this.sendLimitMs);
    try {
      await this.send(row, AbortSignal.any([this.stopping.signal, deadline]));
    } catch (error) {
      if (this.stopping.signal.aborted) {
        // Not the email's fault: no attempt counted. It may have reached the server already, so
        // it can arrive twice, with the same Message-ID.
        await releaseEmail(db, row.id, this.now());
        log.info({ emailId: row.id }, "mail delivery interrupted by shutdown; the email is due again at the next start");
        return;
      }
      await this.recordFailure(row, error, deadline.aborted);
      return;
    }
    this.woken.delete(row.id);
    await markEmail(db, row.id, { status: "sent", at: this.now(), scrub });
    if (this.serverTrouble) await this.wakeWaiting();
  }

  private async wakeWaiting(): Promise<void> {
    this.serverTrouble = false;
    const ids = await wakeWaitingEmails(this.options.db, this.now(), this.woken);
    for (const id of ids) this.woken.add(id);
    if (ids.length > 0) this.options.log.info({ woken: ids.length }, "the SMTP server accepts mail again; every waiting email is due now");
  }

  private async recordFailure(row: OutboxRow, error: unknown, tookTooLong: boolean): Promise<void> {
    const attempts = row.attempts + 1;
    const message = tookTooLong ? `ETIMEDOUT: no answer within ${this.sendLimitMs / 1000} s` : describeSendError(error);
    if (!isRecipientRefusal(error)) this.serverTrouble = true;
    this.options.log.warn({ emailId: row.id, attempts, err: message }, "mail delivery failed");
    if (attempts >= MAX_ATTEMPTS || isPermanent(error)) {
      this.woken.delete(row.id);
      await markEmail(this.options.db, row.id, { status: "failed", attempts, error: message });
    } else {
      await markEmail(this.options.db, row.id, { status: "pending", attempts, retryAt: retryAt(this.now(), attempts, row.expiresAt), error: message });
    }
  }
}

function message(options: MailDeliveryOptions, row: OutboxRow) {
  return {
    from: options.from,
    // The recipient is the verified address stored with the email, never a display name.
    to: row.recipient,
    envelope: { from: envelopeSender(options.from), to: [row.recipient] },
    subject: row.subject,
    html: row.html,
    text: row.text,
    messageId: row.messageId,
    attachments: row.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content) })),
  };
}

function smtpSender(options: MailDeliveryOptions): Send {
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    // After an interrupted send nodemailer ends the socket and waits for the server to close its
    // side, 5 s by default; a stalled server never does, and the open socket would hold up shutdown.
    socketCloseTimeout: 1_000,
  });
  return async (row, signal) => {
    await transport.sendMail({ ...message(options, row), signal });
  };
}

function fileSender(options: MailDeliveryOptions): Send {
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: "unix" });
  return async (row) => {
    const info = await transport.sendMail(message(options, row));
    const bytes = Buffer.isBuffer(info.message) ? info.message : Buffer.alloc(0);
    const name = `${row.id}.eml`;
    const temp = path.join(options.mailDir, `.${name}.part`);
    await writeFile(temp, bytes, { mode: 0o600 });
    await rename(temp, path.join(options.mailDir, name));
  };
}

function envelopeSender(from: string): string {
  const match = /<([^<>]+)>\s*$/.exec(from);
  return match?.[1] ?? from;
}

/** The server refused this recipient or sender (RCPT TO, MAIL FROM): it answers, so it is not in trouble. */
function isRecipientRefusal(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "EENVELOPE";
}

/** A 5xx reply means the server refused this message for good; retrying cannot help. */
function isPermanent(error: unknown): boolean {
  return typeof error === "object" && error !== null && "responseCode" in error && typeof error.responseCode === "number"
    ? error.responseCode >= 500
    : false;
}

function describeSendError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const code = "code" in error && typeof error.code === "string" ? `${error.code}: ` : "";
  return `${code}${error.message}`.slice(0, 500);
}
