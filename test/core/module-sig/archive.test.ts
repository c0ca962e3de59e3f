/**
 * The archive reader on its own: what it hashes (regular files, links inside the module as the
 * file they lead to, long names), what it refuses (each bound, each escape), and that a large
 * archive is read in steps that leave the event loop free between them.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { ARCHIVE_LIMITS, readModuleArchive, type ArchiveRead } from "../../../src/core/module-sig/archive.ts";
import { tar, tgz, type TarEntry } from "../../helpers/module-archive.ts";

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

function refusal(read: ArchiveRead): string {
  return read.ok ? "accepted" : `${read.refusal}: ${read.reason}`;
}

/** A pax extended header ("x") carrying `records`, before the entry it describes. */
function pax(records: Record<string, string>): TarEntry {
  const body = Object.entries(records)
    .map(([key, value]) => {
      const line = ` ${key}=${value}\n`;
      let length = line.length + 1;
      while (`${length}${line}`.length !== length) length += 1;
      return `${length}${line}`;
    })
    .join("");
  return { name: "PaxHeader", type: "x", content: body };
}

describe("reading a module archive", () => {
  it("hashes every regular file below the module's directory, and links inside it as the file they lead to", async () => {
    const long = `deep/${"d".repeat(120)}/file.php`;
    const read = await readModuleArchive(
      tgz([
        { name: "hello/", type: "5" },
        { name: "hello/module.xml", content: "<module/>" },
        { name: "./hello/./views//main.php", content: "main" },
        { name: "././@LongLink", type: "L", content: `hello/${long}\0` },
        { name: "hello/ignored-short-name", content: "long" },
        pax({ path: "hello/pax/named.php" }),
        { name: "hello/other", content: "pax" },
        { name: "hello/views/link.php", type: "2", link: "main.php" },
        { name: "hello/hard.xml", type: "1", link: "hello/module.xml" },
        { name: "hello/chain", type: "2", link: "views/link.php" },
        { name: "hello/to-dir", type: "2", link: "views" },
      ]),
    );
    assert.ok(read.ok, refusal(read));
    assert.equal(read.archive.module, "hello");
    assert.deepEqual(Object.fromEntries(read.archive.files), {
      "module.xml": sha256("<module/>"),
      "views/main.php": sha256("main"),
      [long]: sha256("long"),
      "pax/named.php": sha256("pax"),
      "views/link.php": sha256("main"),
      "hard.xml": sha256("<module/>"),
      chain: sha256("main"),
    });
    assert.deepEqual(read.archive.unresolvedLinks, ["to-dir"]);
  });

  it("refuses escapes, special files and a second top-level directory, with the reason", async () => {
    const cases: Array<[string, TarEntry[], RegExp]> = [
      ["absolute", [{ name: "/hello/x", content: "x" }], /^path: .*absolute path/],
      ["dot-dot", [{ name: "hello/a/../../x", content: "x" }], /^path: .*leads out of the module's directory/],
      ["pax dot-dot", [{ name: "hello/", type: "5" }, pax({ path: "hello/../x" }), { name: "hello/x", content: "x" }], /^path: /],
      ["symlink absolute", [{ name: "hello/l", type: "2", link: "/etc/passwd" }], /^link: .*outside the module/],
      ["symlink up", [{ name: "hello/a/l", type: "2", link: "../../x" }], /^link: .*outside the module/],
      ["top is a link", [{ name: "hello", type: "2", link: "/etc" }], /^link: .*top-level directory/],
      ["hard link out", [{ name: "hello/h", type: "1", link: "other/x" }], /^layout: /],
      ["fifo", [{ name: "hello/f", type: "6" }], /^type: /],
      ["file beside the module", [{ name: "hello/", type: "5" }, { name: "hello", content: "x" }], /^layout: /],
      ["two modules", [{ name: "a/x", content: "x" }, { name: "b/x", content: "x" }], /^layout: /],
    ];
    const wrong: string[] = [];
    for (const [name, entries, expected] of cases) {
      const got = refusal(await readModuleArchive(tgz(entries)));
      if (!expected.test(got)) wrong.push(`${name}: ${got}`);
    }
    assert.deepEqual(wrong, []);
  });

  it("stops at each limit: compressed size, entries, unpacked size and ratio", async () => {
    const small = { ...ARCHIVE_LIMITS, maxCompressedBytes: 1000, maxEntries: 3, maxTotalBytes: 64 * 1024, maxRatio: 10, ratioFloorBytes: 8 * 1024 };
    const files = (n: number) => Array.from({ length: n }, (_, i): TarEntry => ({ name: `hello/f${i}`, content: randomBytes(8) }));
    assert.match(refusal(await readModuleArchive(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.alloc(1000)]), small)), /^too_large: /);
    assert.ok((await readModuleArchive(tgz(files(3)), small)).ok, "three entries fit");
    assert.match(refusal(await readModuleArchive(tgz(files(4)), small)), /^entries: .*more than 3 entries/);
    const zeros = tgz([{ name: "hello/zeros", content: Buffer.alloc(200 * 1024) }]);
    assert.match(refusal(await readModuleArchive(zeros, small)), /^ratio: .*more than 10 times/);
    const noise = tgz([{ name: "hello/noise", content: randomBytes(100 * 1024) }]);
    assert.match(refusal(await readModuleArchive(noise, { ...small, maxCompressedBytes: 1024 * 1024 })), /^total: .*more than 0\.1 MiB/);
  });

  it("refuses what is not a whole gzip-compressed tar: truncated, damaged, plain tar, no end marker", async () => {
    const whole = tgz([{ name: "hello/a", content: randomBytes(4096) }]);
    assert.match(refusal(await readModuleArchive(whole.subarray(0, whole.length - 20))), /^truncated: /);
    const damaged = Buffer.from(whole);
    damaged.fill(0x55, 20, 60);
    assert.match(refusal(await readModuleArchive(damaged)), /^(damaged|truncated): /);
    assert.match(refusal(await readModuleArchive(tar([{ name: "hello/a", content: "x" }]))), /^not_gzip: /);
    const unended = tar([{ name: "hello/a", content: "x" }]).subarray(0, 1024);
    assert.match(refusal(await readModuleArchive(gzipSync(unended))), /^truncated: .*end marker/);
    const badHeader = tar([{ name: "hello/a", content: "x" }]);
    badHeader.write("X", 0, "latin1");
    assert.match(refusal(await readModuleArchive(gzipSync(badHeader))), /^damaged: .*not a valid tar header/);
  });

  it("reads a large archive in steps, leaving the event loop free between them", async () => {
    const content = randomBytes(16 * 1024 * 1024);
    const archive = tgz([{ name: "big/", type: "5" }, { name: "big/blob.bin", content }]);
    let turns = 0;
    let running = true;
    const spin = () => {
      turns += 1;
      if (running) setImmediate(spin);
    };
    setImmediate(spin);
    const read = await readModuleArchive(archive);
    running = false;
    assert.ok(read.ok, refusal(read));
    assert.equal(read.archive.files.get("blob.bin"), sha256(content));
    // Each turn is a moment other requests could be served; one long synchronous read gives none.
    assert.ok(turns > 50, `the event loop turned only ${turns} times while 16 MiB were read`);
  });
});
