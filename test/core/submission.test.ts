import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkDeclarations, type DeclarationInput } from "../../src/core/submission.ts";

const good: DeclarationInput = {
  licence: "GPL-3.0-or-later",
  projectUrls: "https://github.com/dev/module\nhttps://git.example.org/dev/other",
  attestOpenSource: true,
  attestNotCommercial: true,
  attestAgreement: true,
};

function codes(input: Partial<DeclarationInput>): string[] {
  return checkDeclarations({ ...good, ...input }).problems.map((p) => `${p.field}:${p.code}`);
}

describe("request declarations", () => {
  it("accepts a complete declaration and splits the URLs", () => {
    const result = checkDeclarations(good);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.declarations.projectUrls, ["https://github.com/dev/module", "https://git.example.org/dev/other"]);
  });
  it("refuses a licence that is not GPL-compatible", () => {
    assert.deepEqual(codes({ licence: "Proprietary" }), ["licence:KEYSIGN_ERR_LICENCE"]);
    assert.deepEqual(codes({ licence: "" }), ["licence:KEYSIGN_ERR_LICENCE"]);
  });
  it("needs at least one project URL and at most five", () => {
    assert.deepEqual(codes({ projectUrls: " \n " }), ["projectUrls:KEYSIGN_ERR_PROJECT_URL"]);
    assert.deepEqual(codes({ projectUrls: Array.from({ length: 6 }, (_, i) => `https://e.org/${i}`).join("\n") }), ["projectUrls:KEYSIGN_ERR_PROJECT_URL"]);
  });
  for (const url of ["javascript:alert(1)", "ftp://example.org/x", "https://user:pw@example.org/", "https://localhost/x", "not a url", `https://example.org/${"a".repeat(300)}`]) {
    it(`refuses the project URL ${url.slice(0, 40)}`, () => assert.deepEqual(codes({ projectUrls: url }), ["projectUrls:KEYSIGN_ERR_PROJECT_URL"]));
  }
  it("needs every attestation, each with its own message", () => {
    const result = checkDeclarations({ ...good, attestOpenSource: false, attestNotCommercial: false, attestAgreement: false });
    assert.deepEqual(result.problems.map((p) => p.field), ["attestOpenSource", "attestNotCommercial", "attestAgreement"]);
    assert.equal(new Set(result.problems.map((p) => p.message)).size, 3);
  });
});
