/**
 * Every audit action code the code base emits has words in the audit log. The codes are read
 * from the source: string literals shaped like "area.action" in the code that writes audit
 * events, and "request.<event>" for every lifecycle event (request-transitions.ts builds those).
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import ts from "typescript";
import { TRANSITIONS } from "../../src/core/request-lifecycle.ts";
import { AUDIT_ACTIONS_WITH_WORDS, describeAction } from "../../src/presenters/audit-actions.ts";

const SRC = path.resolve(import.meta.dirname, "../../src");
/** Where audit events are written: services, and the repositories, routes and plugins around them. */
const AREAS = ["services", "repositories", "routes", "plugins"];
const CODE = /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/;
/** File names have the same shape as action codes; they are not actions. */
const FILE_NAME = /\.(json|sql|db|asc|gpg|pdf|js|ts|hbs|html|text|txt|css|csv|sig|tgz|xml|php)$/;

/** Action-shaped string literals (quoted, or backquoted without interpolation) in one source text, read by the TypeScript parser. */
export function actionCodesIn(source: string): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && CODE.test(node.text) && !FILE_NAME.test(node.text)) found.push(node.text);
    ts.forEachChild(node, visit);
  };
  visit(ts.createSourceFile("scanned.ts", source, ts.ScriptTarget.Latest, false));
  return found;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith(".ts") ? [path.join(dir, e.name)] : []))));
  return nested.flat();
}

async function emittedCodes(): Promise<Set<string>> {
  const files = (await Promise.all(AREAS.map((area) => sourceFiles(path.join(SRC, area))))).flat();
  const codes = new Set<string>(Object.keys(TRANSITIONS).map((event) => `request.${event}`));
  for (const file of files) for (const code of actionCodesIn(await readFile(file, "utf8"))) codes.add(code);
  return codes;
}

describe("audit actions in words", () => {
  it("finds a code however it is written, and ignores file names", () => {
    const source = `/** \`reply.render\` */ // \`not.this\`
throw new Error(\`It is \${state}: "not.a_code" \`);
appendAuditEvent(tx, { action: "thing.new_code" }); this.audit(tx, actor, 'staff.promoted', {}); save(\`settings.other\`); path("feed.json"); \`request.\${event}\``;
    assert.deepEqual(actionCodesIn(source), ["thing.new_code", "staff.promoted", "settings.other"]);
  });

  it("has words for every action code the code base emits", async () => {
    const emitted = await emittedCodes();
    for (const known of ["request.approval", "request.certify", "batch.export", "staff.invited", "settings.update", "key.owner_update"]) {
      assert.ok(emitted.has(known), `the scan finds ${known}`);
    }
    const words = new Set(AUDIT_ACTIONS_WITH_WORDS);
    assert.deepEqual([...emitted].filter((code) => !words.has(code)).sort(), [], "codes without words: add them to src/presenters/audit-actions.ts");
    assert.deepEqual([...words].filter((code) => !emitted.has(code)).sort(), [], "words for codes nothing emits any more: remove them");
  });

  it("tells what the event's data says", () => {
    assert.equal(describeAction("request.certify", { userIds: ["A <a@example.org>", "B <b@example.org>"] }), "certified 2 user IDs");
    assert.equal(describeAction("request.approval", { approvals: 1, required: 2 }), "approved the request (1 of 2 approvals)");
    assert.equal(describeAction("batch.import", { batch: 7, certified: 2, revoked: 1, declined: 0 }), "imported the result of batch 7: 2 requests certified, 1 revocation signed, 0 items declined");
    assert.equal(describeAction("no.such_code", {}), "did “no.such_code”");
  });
});
