import { writeFile, rename } from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import type { FastifyBaseLogger } from "fastify";
import type { Db } from "../db/client.ts";
import { claimDueEmail, markEmail, type OutboxRow } from "../repositories/outbox.ts";
import { SENSITIVE_TEMPLATES, type EmailTemplate } from "./mail-templates.ts";

export interface MailDeliveryOptions {
  db: Db;
  log: FastifyBaseLogger;
  /** smtp:// or smtps:// URL; empty writes .eml files to `mailDir` instead. */
  smtpUrl: string;
  from: string;
  mailDir: string;
  now?: () => Date;
}

/** Retry schedule: 30 s doubling to at most an hour; after this many attempts the email is failed for staff to see. */
export const MAX_ATTEMPTS = 12;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 60 * 60_000;
/** How long a claimed email stays claimed if the process dies while sending it. */
const LEASE_MS = 5 * 60_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

type Send = (row: OutboxRow) => Promise<void>;

export class MailDelivery {
  private readonly send: Send;
  private readonly now: () => Date;
  private running: Promise<number> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: MailDeliveryOptions) {
    this.now = options.now ?? (() => new Date());
    this.send = options.smtpUrl ? smtpSender(options) : fileSender(options);
  }

  /** Delivers everything due now; concurrent calls share one pass. Returns how many were handled. */
  deliverDue(): Promise<number> {
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  start(intervalMs = 2_000): void {
    this.timer = setInterval(() => void this.deliverDue(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async drain(): Promise<number> {
    let handled = 0;
    for (;;) {
      const row = await claimDueEmail(this.options.db, this.now(), LEASE_MS);
      if (!row) return handled;
      await this.deliverOne(row);
      handled += 1;
    }
  }

  private async deliverOne(row: OutboxRow): Promise<void> {
    const { db, log } = this.options;
    const scrub = SENSITIVE_TEMPLATES.has(row.template as EmailTemplate);
    if (row.expiresAt && row.expiresAt <= this.now()) {
      await markEmail(db, row.id, { status: "expired", scrub });
      return;
    }
    try {
      await this.send(row);
    } catch (error) {
      const attempts = row.attempts + 1;
      const message = describeSendError(error);
      log.warn({ emailId: row.id, attempts, err: message }, "mail delivery failed");
      if (attempts >= MAX_ATTEMPTS || isPermanent(error)) {
        await markEmail(db, row.id, { status: "failed", attempts, error: message });
      } else {
        const retryAt = new Date(this.now().getTime() + retryDelayMs(attempts));
        await markEmail(db, row.id, { status: "pending", attempts, retryAt, error: message });
      }
      return;
    }
    await markEmail(db, row.id, { status: "sent", at: this.now(), scrub });
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
  const transport = nodemailer.createTransport(options.smtpUrl);
  return async (row) => {
    await transport.sendMail(message(options, row));
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
