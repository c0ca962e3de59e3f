/**
 * The static export: the tree builder (deterministic, every key ID, shared key IDs in one
 * file, no address without consent, the routes' bytes), the atomic swap of DIR (never a
 * directory that is not ours), the CLI, and PUBLISH_DIR rewritten after a publication signal.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildStaticTree, emailFileNames, type ExportedKey, type StaticTreeInput } from "../../src/core/publication/static-tree.ts";
import { keyIdsOf } from "../../src/core/publication/published-key.ts";
import { exportSourcesOf, REEXPORT_INTERVAL_MS } from "../../src/plugins/app/publish-dir.ts";
import { findPublishedKeys } from "../../src/repositories/publication.ts";
import { indexedKey, publishedAddresses } from "../../src/services/publication.ts";
import { exportStatic, gatherStaticTree, StaticExportScheduler } from "../../src/services/static-export.ts";
import { EXPORT_MARKER, ExportDirError, replaceExportDir } from "../../src/storage/export-dir.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { submitRequest } from "../helpers/requests.ts";

const CONSENTED = "published@example.org";
const HIDDEN = "hidden@example.org";

async function exportedKeys(t: TestApp): Promise<ExportedKey[]> {
  const keys: ExportedKey[] = [];
  for (const source of await findPublishedKeys(t.app.db)) keys.push({ source, keyIds: await keyIdsOf(source.canonicalKey), indexed: await indexedKey(source, []) });
  return keys;
}

describe("the static export", () => {
  let t: TestApp;
  let published: CertifiedRequest;
  let hidden: CertifiedRequest;
  let publishedId = "";
  let workDir = "";

  before(async () => {
    t = await createTestApp();
    await soleReviewer(t);
    const first = await submitRequest(t, CONSENTED);
    publishedId = first.id;
    published = await certifyRequest(t, first.id);
    await t.app.db.request.update({ where: { id: first.id }, data: { publishedUserIds: JSON.stringify(published.certifications.map((entry) => entry.userId)) } });
    hidden = await certifyRequest(t, (await submitRequest(t, HIDDEN)).id, { master: published.master });
    workDir = await mkdtemp(path.join(tmpdir(), "keysign-export-test-"));
  });
  after(async () => {
    await t.close();
    await rm(workDir, { recursive: true, force: true });
  });

  it("builds the same bytes from the same inputs, with every key ID in both cases and no address without consent", async () => {
    const input: StaticTreeInput = {
      keys: await exportedKeys(t),
      addresses: await publishedAddresses(t.app.db),
      feed: { body: new TextEncoder().encode("{}"), signature: "sig", publicationKey: "key" },
      files: [{ path: "keys/index.html", bytes: new TextEncoder().encode("<p>directory</p>") }],
      now: t.clock.now,
    };
    const first = buildStaticTree(input);
    const second = buildStaticTree(input);
    assert.deepEqual([...first.keys()], [...second.keys()]);
    for (const [file, bytes] of first) assert.deepEqual(bytes, second.get(file), file);
    assert.deepEqual([...first.keys()], [...first.keys()].sort(), "paths are sorted");

    for (const certified of [published, hidden]) {
      const ids = [certified.fingerprint, ...(await keyIdsOf(certified.canonicalKey))];
      assert.ok(ids.length >= 3, "fingerprint, primary and subkey key IDs");
      for (const id of ids) {
        for (const name of [id, id.toLowerCase()]) {
          assert.ok(first.has(`pks/by-id/${name}.asc`), name);
          assert.ok(first.has(`pks/by-id/${name}.index`), name);
        }
      }
    }
    const emailFiles = [...first.keys()].filter((file) => file.startsWith("pks/by-email/"));
    assert.deepEqual(emailFiles, emailFileNames(CONSENTED).flatMap((name) => [`pks/by-email/${name}.asc`, `pks/by-email/${name}.index`]).sort());
    assert.ok(![...first.keys()].some((file) => file.includes("hidden")), "no file names the address without consent");
    for (const [file, bytes] of first) if (file.endsWith(".index")) assert.doesNotMatch(new TextDecoder().decode(bytes), /hidden/, file);
  });

  it("puts keys that share a key ID in one file, in lookup order", async () => {
    const keys = await exportedKeys(t);
    {
      const shared = "0123456789ABCDEF";
      const colliding = keys.map((key) => ({ ...key, keyIds: [...key.keyIds, shared] }));
      const tree = buildStaticTree({ keys: colliding, addresses: [], feed: { body: new Uint8Array(), signature: "", publicationKey: "" }, files: [], now: t.clock.now });
      const index = new TextDecoder().decode(tree.get(`pks/by-id/${shared}.index`));
      assert.match(index, /^info:1:2\n/);
      assert.deepEqual(
        index.split("\n").filter((line) => line.startsWith("pub:")).map((line) => line.split(":")[1]),
        keys.map((key) => key.source.fingerprint),
      );
      assert.equal(tree.get(`pks/by-id/${shared.toLowerCase()}.asc`), tree.get(`pks/by-id/${shared}.asc`));
    }
  });

  it("holds exactly the bytes the portal's routes answer", async () => {
    const tree = await gatherStaticTree(exportSourcesOf(t.app));
    const ids = await keyIdsOf(published.canonicalKey);
    const routes: Array<[string, string]> = [
      [`/pks/lookup?op=get&search=0x${published.fingerprint}`, `pks/by-id/${published.fingerprint}.asc`],
      [`/pks/lookup?op=index&options=mr&search=0x${published.fingerprint}`, `pks/by-id/${published.fingerprint}.index`],
      ...ids.map((id): [string, string] => [`/pks/lookup?op=get&search=0x${id}`, `pks/by-id/${id}.asc`]),
      ...ids.map((id): [string, string] => [`/pks/lookup?op=index&options=mr&search=0x${id}`, `pks/by-id/${id.toLowerCase()}.index`]),
      [`/pks/lookup?op=get&search=${CONSENTED}`, `pks/by-email/${CONSENTED}.asc`],
      [`/pks/lookup?op=index&options=mr&search=${CONSENTED}`, `pks/by-email/${encodeURIComponent(CONSENTED)}.index`],
      ["/status/v1/feed.json", "status/v1/feed.json"],
      ["/status/v1/feed.json.sig", "status/v1/feed.json.sig"],
      ["/status/v1/publication-key.asc", "status/v1/publication-key.asc"],
      [`/keys/${published.fingerprint}`, `keys/${published.fingerprint}.html`],
      [`/keys/${hidden.fingerprint}`, `keys/${hidden.fingerprint}.html`],
      ["/public/css/keysign.css", "public/css/keysign.css"],
    ];
    for (const [url, file] of routes) {
      const served = await t.app.inject({ method: "GET", url });
      assert.equal(served.statusCode, 200, url);
      assert.deepEqual(Buffer.from(tree.get(file) ?? []), served.rawPayload, `${url} = ${file}`);
    }
    const directory = await t.app.inject({ method: "GET", url: "/keys" });
    assert.equal(tree.has("keys/index.html"), directory.statusCode === 200, "the directory page is exported exactly when the portal has one");
    const keyring = new TextDecoder().decode(tree.get("keyring.asc"));
    assert.match(keyring, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  });

  it("swaps DIR atomically to each new version, keeps the one before and removes older ones", async () => {
    const dir = path.join(workDir, "swap", "current");
    const tree = (text: string) => new Map([["a/file.txt", new TextEncoder().encode(text)]]);
    const versions: string[] = [];
    for (const text of ["one", "two", "three"]) {
      const written = await replaceExportDir(dir, tree(text));
      versions.push(written.version);
      assert.ok((await lstat(dir)).isSymbolicLink());
      assert.equal(path.resolve(path.dirname(dir), await readlink(dir)), written.version);
      assert.equal(await readFile(path.join(dir, "a", "file.txt"), "utf8"), text);
      assert.ok((await lstat(path.join(dir, EXPORT_MARKER))).isFile());
    }
    const left = (await readdir(path.dirname(dir))).sort();
    assert.deepEqual(left, ["current", ...versions.slice(1).map((version) => path.basename(version))].sort());
  });

  it("refuses a DIR that exists and is not its own link, and leaves it untouched", async () => {
    const own = path.join(workDir, "user-data");
    await mkdir(own);
    await writeFile(path.join(own, "precious.txt"), "keep me");
    const elsewhere = path.join(workDir, "link-elsewhere");
    await symlink(own, elsewhere);
    const file = path.join(workDir, "a-file");
    await writeFile(file, "keep me too");
    for (const dir of [own, elsewhere, file]) {
      await assert.rejects(replaceExportDir(dir, new Map()), (error: unknown) => error instanceof ExportDirError && /is not a static export made by keysign/.test(error.message), dir);
    }
    assert.equal(await readFile(path.join(own, "precious.txt"), "utf8"), "keep me");
    assert.equal(await readFile(file, "utf8"), "keep me too");
    assert.deepEqual((await readdir(workDir)).filter((name) => name.includes(".keysign-export-")), [], "no version was left behind");
  });

  it("`keysign publish export DIR` writes the export and refuses a directory it did not make", async () => {
    const cli = path.resolve(import.meta.dirname, "../../src/cli/index.ts");
    const env = { ...process.env, DATA_DIR: t.dataDir, DATABASE_URL: t.config.databaseUrl, PUBLIC_URL: t.config.PUBLIC_URL };
    const dir = path.join(workDir, "cli", "current");
    const run = spawnSync(process.execPath, ["--import", "tsx", cli, "publish", "export", dir], { env, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^Wrote \d+ files to .*; .* now points at it\.\n$/);
    assert.equal(await readFile(path.join(dir, "keys", `${published.fingerprint}.html`), "utf8"), (await t.app.inject({ method: "GET", url: `/keys/${published.fingerprint}` })).body);
    const refused = spawnSync(process.execPath, ["--import", "tsx", cli, "publish", "export", workDir], { env, encoding: "utf8" });
    assert.equal(refused.status, 4);
    assert.match(refused.stderr, /is not a static export made by keysign: choose a path that does not exist yet/);
    const usage = spawnSync(process.execPath, ["--import", "tsx", cli, "publish", "export"], { env, encoding: "utf8" });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: keysign publish export DIR/);
  });

  it("with PUBLISH_DIR, exports at start and again after a publication change", async () => {
    const dir = path.join(workDir, "live", "current");
    const live = await createTestApp({ PUBLISH_DIR: dir });
    try {
      await soleReviewer(live);
      const { id } = await submitRequest(live, CONSENTED);
      const certified = await certifyRequest(live, id);
      await live.app.staticExport?.idle();
      const keyFile = path.join(dir, "pks", "by-id", `${certified.fingerprint}.asc`);
      // Certified behind the app's back (a fixture): nothing signalled yet, so the start's export may lack it.
      live.app.publication.changed();
      await live.app.staticExport?.idle();
      const before = await readFile(keyFile, "utf8");
      assert.equal(before, (await live.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${certified.fingerprint}` })).body);
      // A revocation through the staff page raises the signal itself.
      assert.equal((await revokeAsSoleReviewer(live, id, "key_compromised")).statusCode, 303);
      await live.app.staticExport?.idle();
      const afterRevocation = await readFile(keyFile, "utf8");
      assert.notEqual(afterRevocation, before);
      assert.equal(afterRevocation, (await live.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${certified.fingerprint}` })).body);
    } finally {
      await live.close();
    }
  });

  it("coalesces a burst of signals, never runs two exports at once, and retries after a failure", async () => {
    const dir = path.join(workDir, "burst", "current");
    const live = await createTestApp({ PUBLISH_DIR: dir, LOG_LEVEL: "info" });
    try {
      await live.app.staticExport?.idle();
      const exports = () => live.logs.filter((line) => line.includes("static export written")).length;
      const started = exports();
      for (let i = 0; i < 20; i++) live.app.publication.changed();
      await live.app.staticExport?.idle();
      assert.ok(exports() - started <= 2, `at most the running export and one more (${exports() - started})`);
      assert.ok(exports() - started >= 1);

      // The link replaced by a directory that is not ours: the export fails, says so, and deletes nothing.
      const version = await readlink(dir);
      await rm(dir);
      await mkdir(dir);
      live.app.publication.changed();
      await live.app.staticExport?.idle();
      const failure = live.logs.find((line) => line.includes("static export failed"));
      assert.match(failure ?? "", /is not a static export made by keysign/);
      assert.doesNotMatch(live.logs.join(""), /BEGIN PGP/);
      await rm(dir, { recursive: true });
      await symlink(version, dir);
      const written = exports();
      live.app.publication.changed();
      await live.app.staticExport?.idle();
      assert.equal(exports(), written + 1, "the next signal exports again");
    } finally {
      await live.close();
    }
  });

  it("with PUBLISH_DIR, exports again every hour without changes, so the exported feed stays valid", async (context) => {
    context.mock.timers.enable({ apis: ["setInterval"] });
    const live = await createTestApp({ PUBLISH_DIR: path.join(workDir, "hourly", "current"), LOG_LEVEL: "info" });
    try {
      await live.app.staticExport?.idle();
      const exports = () => live.logs.filter((line) => line.includes("static export written")).length;
      const before = exports();
      context.mock.timers.tick(REEXPORT_INTERVAL_MS);
      await live.app.staticExport?.idle();
      assert.equal(exports(), before + 1);
    } finally {
      await live.close();
    }
  });

  it("the scheduler never runs two exports at once and runs one more after a burst", async () => {
    let running = 0;
    let most = 0;
    let runs = 0;
    let release: () => void = () => {};
    const scheduler = new StaticExportScheduler(async () => {
      running++;
      most = Math.max(most, running);
      runs++;
      await new Promise<void>((resolve) => (release = resolve));
      running--;
      return { version: "v", files: 0 };
    }, t.app.log);
    const first = scheduler.request();
    const burst = Array.from({ length: 10 }, () => scheduler.request());
    release();
    // The second export starts once the first has finished.
    while (runs < 2) await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all([first, ...burst]);
    await scheduler.idle();
    assert.equal(most, 1);
    assert.equal(runs, 2);
  });

  it("exports a revocation made after the first export", async () => {
    const dir = path.join(workDir, "revoked", "current");
    await exportStatic(exportSourcesOf(t.app), dir);
    const file = path.join(dir, "pks", "by-id", `${published.fingerprint}.asc`);
    const before = await readFile(file, "utf8");
    assert.equal((await revokeAsSoleReviewer(t, publishedId, "key_compromised")).statusCode, 303);
    await exportStatic(exportSourcesOf(t.app), dir);
    assert.notEqual(await readFile(file, "utf8"), before);
  });
});
