import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { EMAIL_SUBJECTS, renderEmail, type EmailTemplate } from "../../src/services/mail-templates.ts";
import { SAMPLE_CONTACT, SAMPLE_FINGERPRINT, sampleEmailData } from "../helpers/email-samples.ts";

const EMAILS_DIR = path.resolve(import.meta.dirname, "../../views/emails");
const TEMPLATES = Object.keys(EMAIL_SUBJECTS) as EmailTemplate[];
const GROUPED = "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567";
/** 40 hex digits in a row: a fingerprint nobody can compare at a glance. */
const UNGROUPED = /[0-9A-F]{40}/i;

function render(template: EmailTemplate, contactAddress: string | null = SAMPLE_CONTACT) {
  return renderEmail(template, sampleEmailData(), { contactAddress });
}

/** HTML a person reads as prose: without commands (typed as shown) and link targets. */
function proseOfHtml(html: string): string {
  return html.replace(/<pre data-command[\s\S]*?<\/pre>/g, "").replace(/href="[^"]*"/g, "").replace(/https?:\/\/\S+/g, "");
}

/** Text a person reads as prose: without command lines and addresses. */
function proseOfText(text: string): string {
  return text
    .split("\n")
    .filter((line) => !/^\s+gpg /.test(line))
    .join("\n")
    .replace(/https?:\/\/\S+/g, "");
}

describe("email templates", () => {
  it("lists every template on disk, each with an HTML and a text version", () => {
    const files = readdirSync(EMAILS_DIR).filter((name) => name.endsWith(".hbs"));
    const names = new Set(files.map((name) => name.replace(/\.(html|text)\.hbs$/, "")));
    assert.deepEqual([...names].sort(), [...TEMPLATES].sort());
    for (const name of names) {
      assert.ok(files.includes(`${name}.html.hbs`) && files.includes(`${name}.text.hbs`), `${name} has both versions`);
    }
  });

  for (const template of TEMPLATES) {
    it(`${template}: a title, a language, one button, fingerprints in groups, the contact address in both versions`, () => {
      const { html, text, subject } = render(template);
      assert.match(html, /^<!doctype html>\n<html lang="en">/);
      const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? "";
      assert.equal(title, subject);
      assert.ok(title.length > 0);
      // The main action is a button: a link styled inside a table cell, which mail clients keep.
      const buttons = [...html.matchAll(/<td style="[^"]*background: #1f5fae;"><a href="([^"]+)" data-primary-link style="[^"]*display: inline-block;[^"]*"/g)];
      assert.equal(buttons.length, 1, "exactly one primary link, styled as a button");
      const target = buttons[0]?.[1] ?? "";
      assert.ok(text.includes(target), "the text version has the same main link");
      assert.doesNotMatch(proseOfHtml(html), UNGROUPED);
      assert.doesNotMatch(proseOfText(text), UNGROUPED);
      if (html.includes(GROUPED)) assert.ok(text.includes(GROUPED), "the text version shows the fingerprint as the HTML does");
      assert.ok(html.includes(`<a href="mailto:${SAMPLE_CONTACT}"`), "the HTML names the contact address as a link");
      assert.ok(text.includes(SAMPLE_CONTACT), "the text names the contact address");
      assert.doesNotMatch(html + text, /security team/);
    });
  }

  it("wraps every command, so none is wider than a phone", () => {
    for (const template of TEMPLATES) {
      const { html } = render(template);
      const blocks = html.match(/<pre\b[^>]*>/g) ?? [];
      for (const block of blocks) assert.match(block, /white-space: pre-wrap;.*overflow-wrap: anywhere;/, `${template}: ${block}`);
      // Code appears only inside those blocks, never as an inline run that cannot break.
      assert.equal((html.match(/<code>/g) ?? []).length, blocks.length, `${template}: no inline code`);
    }
  });

  it("keeps commands whole so they can be typed as shown", () => {
    const { html, text } = render("request-certified");
    assert.ok(html.includes(`<code>gpg --check-sigs ${SAMPLE_FINGERPRINT}</code>`));
    assert.ok(text.includes(`  gpg --check-sigs ${SAMPLE_FINGERPRINT}\n`));
    assert.ok(html.includes(GROUPED));
  });

  it("says to reply when no contact address is known, and names none", () => {
    const { html, text } = render("request-received", null);
    assert.doesNotMatch(html, /mailto:/);
    assert.match(html, /If you did not send this request, reply to this email at once\./);
    assert.match(text, /If you did not send this request, reply to this email at once\./);
    assert.match(text, /Reply to this email\.\n$/);
  });

  it("escapes values in HTML and leaves the text version unescaped", () => {
    const { html, text } = renderEmail("request-received", { ...sampleEmailData(), userIds: ["Eve <b>bold</b> <eve@example.org>"] }, { contactAddress: SAMPLE_CONTACT });
    assert.ok(html.includes("Eve &lt;b&gt;bold&lt;/b&gt;"));
    assert.ok(text.includes("Eve <b>bold</b> <eve@example.org>"));
  });
});
