import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { formatSha256, sha256Lines } from "../../src/core/sha256-display.ts";

describe("sha256Lines / formatSha256", () => {
  const hex = createHash("sha256").update("keysign").digest("hex");

  it("prints 64 hex digits as two lines of four groups of eight, lower case", () => {
    const lines = sha256Lines(hex.toUpperCase());
    assert.equal(lines.length, 2);
    for (const line of lines) assert.match(line, /^[0-9a-f]{8}( [0-9a-f]{8}){3}$/);
    assert.equal(lines.join("").replace(/ /g, ""), hex);
  });

  it("joins the same lines with a space, as a page's text reads", () => {
    assert.equal(formatSha256(hex), sha256Lines(hex).join(" "));
    assert.equal(formatSha256(hex).length, 64 + 7);
  });
});
