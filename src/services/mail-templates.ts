import { readFileSync } from "node:fs";
import path from "node:path";
import handlebars from "handlebars";
import type { Config } from "../config.ts";
import { formatFingerprint } from "../core/key-policy/fingerprint.ts";
import { contactAddressOf } from "../core/settings.ts";
import type { Db, Tx } from "../db/client.ts";
import { readSettings } from "../repositories/settings.ts";

const EMAILS_DIR = path.resolve(import.meta.dirname, "../../views/emails");

/** Subjects are fixed text: no user-supplied string ever reaches a mail header. */
export const EMAIL_SUBJECTS = {
  "sign-in": "Your Keysign sign-in link",
  "confirm-address": "Confirm this address for Keysign",
  "request-received": "We received your certification request",
  "request-approved": "Your certification request was approved",
  "request-rejected": "Your certification request was rejected",
  "changes-requested": "Changes requested on your certification request",
  "review-digest": "Keysign: certification requests waiting for review",
  "staff-invite": "You are invited to the Keysign staff",
  "request-certified": "Your key is certified",
  "request-revoked": "The certification of your key was revoked",
  "key-updated": "Your published key was updated",
  "certification-expiring": "The certification of your key expires soon",
  "key-expiring": "Your key expires soon",
  "expiry-digest": "Keysign: certifications expiring soon",
  "request-withdrawn": "Your certification request was withdrawn",
  "revision-received": "We received your revised certification request",
  "signer-declined": "The signer returned your certification request",
} as const;

export type EmailTemplate = keyof typeof EMAIL_SUBJECTS;

/** Templates whose body holds a secret link; the outbox scrubs them once handled. */
export const SENSITIVE_TEMPLATES: ReadonlySet<EmailTemplate> = new Set(["sign-in", "confirm-address", "staff-invite"]);

export interface RenderedEmail {
  template: EmailTemplate;
  subject: string;
  html: string;
  text: string;
}

/** What every email carries besides its own data: where people write about security. */
export interface EmailCommon {
  /** The contact address setting, or the sender's address; null when neither is one people can write to. */
  contactAddress: string | null;
}

/** Reads what every email carries, in the caller's transaction when it has one. */
export async function emailCommon(db: Db | Tx, config: Pick<Config, "MAIL_FROM">): Promise<EmailCommon> {
  return { contactAddress: contactAddressOf(await readSettings(db), config.MAIL_FROM) };
}

type Compiled = { html: HandlebarsTemplateDelegate; text: HandlebarsTemplateDelegate };
const compiled = new Map<EmailTemplate, Compiled>();
const engine = handlebars.create();
const HTML_OPTIONS = { strict: true } as const;
// Plain text needs no HTML escaping; values are still never interpreted as markup.
const TEXT_OPTIONS = { strict: true, noEscape: true } as const;

/** Fingerprints read in groups of four wherever a person compares them; commands keep them whole. */
engine.registerHelper("grouped", (fingerprint: unknown) => formatFingerprint(String(fingerprint)));
// Builds a command from fixed words and the email's values; escaped as usual in HTML.
engine.registerHelper("concat", (...args: unknown[]) => args.slice(0, -1).map(String).join(""));

/**
 * Shared pieces, compiled here with the options of their kind: a partial compiled on first use
 * would take the options of whichever template used it first, escaping or not.
 */
for (const [name, file, options] of [
  ["layout", "layout.html", HTML_OPTIONS],
  ["button", "button.html", HTML_OPTIONS],
  ["command", "command.html", HTML_OPTIONS],
  ["fingerprint", "fingerprint.html", HTML_OPTIONS],
  ["reach-us", "reach-us.html", HTML_OPTIONS],
  ["contact-text", "contact.text", TEXT_OPTIONS],
  ["reach-us-text", "reach-us.text", TEXT_OPTIONS],
] as const) {
  const source = readFileSync(path.join(EMAILS_DIR, "partials", `${file}.hbs`), "utf8");
  // Without the file's last newline an inline piece ("write to …") joins the sentence around it.
  engine.registerPartial(name, engine.compile(name.startsWith("reach-us") ? source.replace(/\n$/, "") : source, options));
}

function load(template: EmailTemplate): Compiled {
  const cached = compiled.get(template);
  if (cached) return cached;
  const read = (ext: string) => readFileSync(path.join(EMAILS_DIR, `${template}.${ext}.hbs`), "utf8");
  const entry = { html: engine.compile(read("html"), HTML_OPTIONS), text: engine.compile(read("text"), TEXT_OPTIONS) };
  compiled.set(template, entry);
  return entry;
}

export function renderEmail(template: EmailTemplate, data: Record<string, unknown>, common: EmailCommon): RenderedEmail {
  const { html, text } = load(template);
  const subject = EMAIL_SUBJECTS[template];
  const values = { ...data, ...common, subject };
  return { template, subject, html: html(values), text: text(values) };
}
