import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { csvCell, csvRow } from "../../src/core/csv.ts";

describe("CSV export cells", () => {
  for (const formula of ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]) {
    it(`neutralises a cell starting with ${JSON.stringify(formula[0])}`, () => {
      assert.equal(csvCell(formula).slice(0, 2), "\"'");
    });
  }
  it("quotes every cell and doubles inner quotes", () => {
    assert.equal(csvRow(["a", 'say "hi"', null, 3]), '"a","say ""hi""","","3"\r\n');
  });
  it("leaves ordinary text alone", () => {
    assert.equal(csvCell("request.approve"), '"request.approve"');
  });
});
