import { readFileSync } from "node:fs";
import path from "node:path";
import handlebars from "handlebars";
import { formatFingerprint } from "../core/key-policy/fingerprint.ts";

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

type Compiled = { html: HandlebarsTemplateDelegate; text: HandlebarsTemplateDelegate };
const compiled = new Map<EmailTemplate, Compiled>();
const engine = handlebars.create();
// Fingerprints read in groups of four in the HTML body, as on the portal's pages; commands keep them whole.
engine.registerHelper("grouped", (fingerprint: unknown) => formatFingerprint(String(fingerprint)));

function load(template: EmailTemplate): Compiled {
  const cached = compiled.get(template);
  if (cached) return cached;
  const read = (ext: string) => readFileSync(path.join(EMAILS_DIR, `${template}.${ext}.hbs`), "utf8");
  const entry = {
    html: engine.compile(read("html"), { strict: true }),
    // Plain text needs no HTML escaping; values are still never interpreted as markup.
    text: engine.compile(read("text"), { strict: true, noEscape: true }),
  };
  compiled.set(template, entry);
  return entry;
}

export function renderEmail(template: EmailTemplate, data: Record<string, unknown>): RenderedEmail {
  const { html, text } = load(template);
  return { template, subject: EMAIL_SUBJECTS[template], html: html(data), text: text(data) };
}
