import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { checkAgreementPdf, displayFileName, MAX_AGREEMENT_BYTES } from "../../src/core/agreement-pdf.ts";

const template = readFileSync(path.resolve(import.meta.dirname, "../../public/keysign-agreement.pdf"));

describe("agreement PDF checks", () => {
  it("accepts the shipped blank agreement", () => assert.equal(checkAgreementPdf(template), null));

  const cases: Array<[string, Uint8Array, string]> = [
    ["an empty file", new Uint8Array(), "KEYSIGN_ERR_AGREEMENT_MISSING"],
    ["a ZIP archive", Buffer.from("PK\u0003\u0004rest of archive"), "KEYSIGN_ERR_AGREEMENT_NOT_PDF"],
    ["a PNG image", Buffer.from("\u0089PNG\r\n\u001a\n...."), "KEYSIGN_ERR_AGREEMENT_NOT_PDF"],
    ["junk before the PDF header (polyglot)", Buffer.concat([Buffer.from("<html>"), template]), "KEYSIGN_ERR_AGREEMENT_NOT_PDF"],
    ["a truncated PDF", template.subarray(0, 200), "KEYSIGN_ERR_AGREEMENT_TRUNCATED"],
    ["an encrypted PDF", Buffer.from("%PDF-1.7\ntrailer\n<< /Root 1 0 R /Encrypt 5 0 R >>\n%%EOF\n"), "KEYSIGN_ERR_AGREEMENT_ENCRYPTED"],
    ["a file over 10 MiB", Buffer.concat([Buffer.from("%PDF-1.4\n"), Buffer.alloc(MAX_AGREEMENT_BYTES), Buffer.from("%%EOF")]), "KEYSIGN_ERR_AGREEMENT_TOO_LARGE"],
  ];
  for (const [label, bytes, code] of cases) {
    it(`refuses ${label} with ${code}`, () => {
      const problem = checkAgreementPdf(bytes);
      assert.equal(problem?.code, code);
      assert.ok(problem && problem.message.length > 20);
    });
  }

  it("keeps only a harmless display name from the client's file name", () => {
    assert.equal(displayFileName("../../etc/passwd"), "passwd");
    assert.equal(displayFileName("C:\\Users\\me\\agreement.pdf"), "agreement.pdf");
    assert.equal(displayFileName("evil\u202Efdp.exe"), "evilfdp.exe");
    assert.equal(displayFileName("line\r\nbreak.pdf"), "linebreak.pdf");
    assert.equal(displayFileName(""), "agreement.pdf");
    assert.equal(displayFileName(undefined), "agreement.pdf");
    assert.equal(displayFileName("x".repeat(500)).length, 120);
  });
});
