import assert from "node:assert/strict";
import { describe, it } from "node:test";
import handlebars from "handlebars";
import { codeSpans } from "../../src/presenters/helpers.ts";

const escape = handlebars.escapeExpression;

describe("messages with commands", () => {
  it("shows each backticked command as code, without the backticks", () => {
    assert.equal(codeSpans("Run `gpg --export A` then `gpg --import`.", escape), "Run <code>gpg --export A</code> then <code>gpg --import</code>.");
  });

  it("escapes everything, inside and outside the code", () => {
    assert.equal(codeSpans("<b> `a <script>` & more", escape), "&lt;b&gt; <code>a &lt;script&gt;</code> &amp; more");
  });

  it("leaves an unbalanced backtick as text rather than guessing where code ends", () => {
    assert.equal(codeSpans("one ` alone <i>", escape), "one &#x60; alone &lt;i&gt;");
  });
});
