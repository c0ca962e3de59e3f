/**
 * The module.sig format: devtools' file order and exclusions, the text written, and reading it
 * back as PHP's INI reader does (the real FreePBX module.sig too, when the reference data is
 * present).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { moduleSigText, readModuleSig } from "../../../src/core/module-sig/format.ts";
import { parseModuleIni, unlistablePathReason } from "../../../src/core/module-sig/ini.ts";
import { compareDevtoolsOrder, listModuleFiles } from "../../../src/core/module-sig/manifest.ts";
import { STATUS, statusNames } from "../../../src/core/module-sig/status.ts";

const REAL_MODULE_SIG = path.resolve(import.meta.dirname, "../../../../shared/freepbx/modules/infoservices/module.sig");

describe("which files a module.sig lists", () => {
  it("orders names by their bytes per directory and lists a directory's files where it sorts", () => {
    const files = ["functions.inc.php", "assets/js/b.js", "Backup.php", "assets/a.css", "LICENSE", "assets/js/A.js", "README.md", "install.php", "assets-old.txt", "é.php", "z.php"];
    const { listed } = listModuleFiles(files.map((p) => ({ path: p })));
    assert.deepEqual(listed, ["Backup.php", "LICENSE", "README.md", "assets/a.css", "assets/js/A.js", "assets/js/b.js", "assets-old.txt", "functions.inc.php", "install.php", "z.php", "é.php"]);
  });

  it("compares a directory's name before what is in it, as a walk does", () => {
    assert.ok(compareDevtoolsOrder("a/z", "a-b") < 0, "'a' sorts before 'a-b', so the directory a comes first");
    assert.ok(compareDevtoolsOrder("a.php", "a/x") > 0, "'a.php' sorts after 'a'");
  });

  it("leaves out dot-names at any depth, the top-level module.sig and run-time files, and says why", () => {
    const files = [".htaccess", "lib/.hidden/x.php", "lib/.env", "module.sig", "sub/module.sig", "assets/less/cache/main.css", "assets/less/main.less", "keep.php", "build/out.js"];
    const listing = listModuleFiles(
      files.map((p) => ({ path: p })),
      ["assets/less/cache/", "build/out.js"],
    );
    assert.deepEqual(listing.listed, ["assets/less/main.less", "keep.php", "sub/module.sig"]);
    assert.deepEqual(listing.left, [
      { path: ".htaccess", reason: "dot-name" },
      { path: "assets/less/cache/main.css", reason: "excluded", rule: "assets/less/cache/" },
      { path: "build/out.js", reason: "excluded", rule: "build/out.js" },
      { path: "lib/.env", reason: "dot-name" },
      { path: "lib/.hidden/x.php", reason: "dot-name" },
      { path: "module.sig", reason: "module.sig" },
    ]);
  });
});

describe("the module.sig text", () => {
  const text = moduleSigText({
    signedWith: "0123456789ABCDEF0123456789ABCDEF01234567",
    repo: "",
    type: "public",
    hashes: [
      { path: "my file@2x.png", sha256: "a".repeat(64) },
      { path: "module.xml", sha256: "b".repeat(64) },
    ],
  });

  it("is devtools' format: the banner, [config] version 2, [hashes], ';# End', LF only", () => {
    const lines = text.split("\n");
    assert.equal(lines[0], ";################################################");
    assert.equal(lines[1], ";#        FreePBX Module Signature File         #");
    assert.equal(lines[7], "");
    assert.deepEqual(lines.slice(8, 16), ["[config]", "version=2", "hash=sha256", "signedwith=0123456789ABCDEF0123456789ABCDEF01234567", "signedby=keysign", "repo=", "type=public", "[hashes]"]);
    assert.deepEqual(lines.slice(16), [`my file@2x.png = ${"a".repeat(64)}`, `module.xml = ${"b".repeat(64)}`, ";# End", ""]);
    assert.ok(!text.includes("\r"));
  });

  it("reads back as written, spaces and '@' in paths included", () => {
    const read = readModuleSig(text);
    assert.ok(read.ok);
    assert.equal(read.fields.version, "2");
    assert.equal(read.fields.hash, "sha256");
    assert.equal(read.fields.type, "public");
    assert.deepEqual([...read.fields.hashes], [["my file@2x.png", "a".repeat(64)], ["module.xml", "b".repeat(64)]]);
  });

  it("reads the real FreePBX module.sig's signed text", { skip: existsSync(REAL_MODULE_SIG) ? false : "the FreePBX reference data (../shared/freepbx) is not present" }, () => {
    const signed = readFileSync(REAL_MODULE_SIG, "utf8");
    const body = signed.slice(signed.indexOf("\n\n") + 2, signed.indexOf("-----BEGIN PGP SIGNATURE-----"));
    const read = readModuleSig(body);
    assert.ok(read.ok);
    assert.equal(read.fields.version, "1");
    assert.equal(read.fields.signedWith, "B53D215A755231A3");
    assert.equal(read.fields.hashes.size, 7);
    assert.equal(read.fields.hashes.get("module.xml"), "6db00c430efc11b4285d442b21b3254d14e01d6ca9dbbf94b2ea28829f6b4864");
  });
});

describe("reading INI text as PHP does", () => {
  it("takes k = v and k=v, quoted values, ';' comments, blank lines, CRLF and a missing ';# End'", () => {
    const parsed = parseModuleIni('[config]\r\nversion = 2\r\nsignedby="Dev; Team <d@example.org>" ; who\n\n; note\nrepo=\'x\'\nflag=yes\n[hashes]\na.php=ff ; trailing\n');
    assert.ok(parsed.ok);
    assert.equal(parsed.sections.get("config")?.get("version"), "2");
    assert.equal(parsed.sections.get("config")?.get("signedby"), "Dev; Team <d@example.org>");
    assert.equal(parsed.sections.get("config")?.get("repo"), "x");
    assert.equal(parsed.sections.get("config")?.get("flag"), "1", "PHP reads yes as 1");
    assert.equal(parsed.sections.get("hashes")?.get("a.php"), "ff");
  });

  it("reads an empty text as nothing, and the later of two equal keys", () => {
    const empty = readModuleSig("");
    assert.ok(empty.ok);
    assert.equal(empty.fields.hashes.size, 0);
    const twice = parseModuleIni("[hashes]\na = 1\na = 2\n");
    assert.ok(twice.ok);
    assert.equal(twice.sections.get("hashes")?.get("a"), "2");
  });

  it("refuses what PHP refuses: a line without '=', an unclosed quote, a forbidden key", () => {
    for (const text of ["[config]\noff = 1\n", "[hashes]\njust words\n", '[config]\nsignedby="open\n', "[hashes]\na(b).php = ff\n", "[hashes]\nx[] = ff\n"]) {
      assert.equal(parseModuleIni(text).ok, false, JSON.stringify(text));
    }
  });

  it("names the paths a module.sig cannot list", () => {
    assert.equal(unlistablePathReason("my file@2x.png"), null);
    assert.match(unlistablePathReason("a(1).php") ?? "", /PHP's INI reader does not accept/);
    assert.match(unlistablePathReason("yes") ?? "", /boolean or null/);
    assert.match(unlistablePathReason(" lead.php") ?? "", /space/);
  });
});

describe("FreePBX's status bits", () => {
  it("has FreePBX's values and names them in order", () => {
    assert.deepEqual(STATUS, { GOOD: 1, TAMPERED: 2, INVALID: 4, UNSIGNED: 8, EXPIRED: 32, REVOKED: 64, TRUSTED: 128 });
    assert.deepEqual(statusNames(129), ["GOOD", "TRUSTED"]);
    assert.deepEqual(statusNames(7), ["GOOD", "TAMPERED", "INVALID"]);
  });
});
