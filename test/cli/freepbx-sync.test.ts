/**
 * `keysign freepbx sync` against a live portal, into a GnuPG home set up as FreePBX's (the RSA
 * master imported with ultimate ownertrust), judged the way FreePBX judges: `gpg --verify` of a
 * module.sig must say TRUST_FULLY, and after a revocation `--check-sigs` must match FreePBX's
 * own REVOKED pattern. A small proxy in front of the portal serves tampered, stale and replayed
 * copies, as a hostile mirror or network would.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { concatBytes, scanPackets, TAG, writePacket } from "../../src/core/key-policy/packets.ts";
import { inspectionConfig } from "../../src/core/openpgp-config.ts";
import { armorPublicKey, dearmor, splitArmor } from "../../src/core/key-policy/armor.ts";
import { encodeFeed, type Feed } from "../../src/core/publication/feed.ts";
import { signDetached } from "../../src/core/transfer/envelope.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { runKeysign } from "../helpers/cli.ts";
import { checkSigs, freepbxSeesRevoked, makeModuleSig, verifyStatus, withFreepbxHome } from "../helpers/freepbx.ts";
import type { GpgHome } from "../helpers/gpg.ts";
import type { TestKey } from "../helpers/keys.ts";
import { submitRequest } from "../helpers/requests.ts";
import { makeMaster } from "../helpers/signing-queue.ts";
import { makeQueueKey } from "../helpers/transfer.ts";

const STATE_FILE = "keysign-freepbx-sync.json";

/**
 * The armored key with every certification revocation (0x30) damaged in its last byte: still a
 * packet of the same type, counted by a check that only counts, and dropped by GnuPG as invalid.
 */
async function withForgedRevocations(armored: string): Promise<Uint8Array> {
  const split = splitArmor(armored);
  assert.ok(split.ok && split.blocks[0]);
  const binary = await dearmor(split.blocks[0].text, inspectionConfig({ minRsaBits: 2048 }));
  assert.ok(binary);
  let forged = 0;
  const packets = scanPackets(binary).packets.map((packet) => {
    if (packet.tag !== TAG.signature || packet.body[1] !== 0x30) return writePacket(packet.tag, packet.body);
    forged += 1;
    const body = Uint8Array.from(packet.body);
    body[body.length - 1] = (body.at(-1) ?? 0) ^ 0xff;
    return writePacket(packet.tag, body);
  });
  assert.ok(forged > 0, "the key carries a revocation to forge");
  return new TextEncoder().encode(armorPublicKey(concatBytes(packets)));
}

interface Proxy {
  url: string;
  /** Path (with query) → bytes served instead of the portal's answer. */
  overrides: Map<string, Uint8Array>;
  /** Paths whose override is served once, then forgotten. */
  once: Set<string>;
  close: () => Promise<void>;
}

/** A plain http server in front of the portal that answers some paths with other bytes. */
async function startProxy(target: string): Promise<Proxy> {
  const overrides = new Map<string, Uint8Array>();
  const once = new Set<string>();
  const server: Server = createServer((request, response) => {
    const url = request.url ?? "/";
    const override = overrides.get(url);
    if (override) {
      if (once.delete(url)) overrides.delete(url);
      response.writeHead(200).end(override);
      return;
    }
    fetch(new URL(url, target)).then(
      async (upstream) => response.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" }).end(Buffer.from(await upstream.arrayBuffer())),
      () => response.writeHead(502).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, overrides, once, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe("keysign freepbx sync", () => {
  let t: TestApp;
  let certified: CertifiedRequest;
  let developer: TestKey;
  let requestId: string;
  let portal: string;
  let proxy: Proxy;
  let work: string;
  let publicationKeyFile: string;
  let moduleSig: string;
  before(async () => {
    t = await createTestApp({}, new Date());
    // GnuPG judges with the real clock, so the portal keeps it too.
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await soleReviewer(t);
    const submitted = await submitRequest(t, "dev@example.org", "Dev");
    ({ id: requestId, key: developer } = submitted);
    certified = await certifyRequest(t, requestId, { master: await makeMaster("rsa3072") });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    portal = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/`;
    proxy = await startProxy(portal);
    work = await mkdtemp(path.join(tmpdir(), "keysign-freepbx-"));
    publicationKeyFile = path.join(work, "publication-key.asc");
    await writeFile(publicationKeyFile, await (await fetch(new URL("status/v1/publication-key.asc", portal))).text());
    moduleSig = path.join(work, "module.sig");
    await writeFile(moduleSig, await makeModuleSig(developer));
  });
  after(async () => {
    await proxy?.close();
    await t?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const sync = (home: string, from = proxy.url) => runKeysign(["freepbx", "sync", "--from", from, "--publication-key", publicationKeyFile, "--gpg-home", home], work);

  const withHome = <T>(callback: (gpg: GpgHome) => Promise<T>) => withFreepbxHome(certified.master, callback);
  const verify = (gpg: GpgHome) => verifyStatus(gpg, moduleSig);
  const exported = (gpg: GpgHome) => gpg.ok(["--export"]);
  const sequenceIn = async (home: string) => (JSON.parse(await readFile(path.join(home, STATE_FILE), "utf8")) as { sources: Record<string, { sequence: number }> }).sources[proxy.url]?.sequence;
  const feedNow = async () => ({
    body: new Uint8Array(await (await fetch(new URL("status/v1/feed.json", portal))).arrayBuffer()),
    signature: new Uint8Array(await (await fetch(new URL("status/v1/feed.json.sig", portal))).arrayBuffer()),
  });
  const keyUrl = () => `/vks/v1/by-fingerprint/${certified.fingerprint}`;

  it("makes a module trusted, changes nothing when run again, and after a revocation makes FreePBX see REVOKED; withheld and replayed copies are refused", async () => {
    await withHome(async (gpg) => {
      assert.doesNotMatch(await verify(gpg), /TRUST_(FULLY|ULTIMATE)/, "before the sync the developer's key is unknown");

      const first = await sync(gpg.dir);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^keysign freepbx sync: feed \d+ from http:\/\/127\.0\.0\.1:\d+\/: 1 key, 1 imported or updated, 0 unchanged\n$/);
      assert.equal(first.stderr, "");
      assert.match(await verify(gpg), /^\[GNUPG:\] TRUST_FULLY/m);
      const before = await feedNow();
      const beforeKey = new Uint8Array(await (await fetch(new URL(keyUrl().slice(1), portal))).arrayBuffer());
      const accepted = await sequenceIn(gpg.dir);
      assert.equal(typeof accepted, "number", "the sequence is kept in the GnuPG home");

      const keyring = await exported(gpg);
      const again = await sync(gpg.dir);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /: 1 key, 0 imported or updated, 1 unchanged\n$/);
      assert.deepEqual(await exported(gpg), keyring, "a second run changes nothing");
      assert.equal(await sequenceIn(gpg.dir), accepted);

      assert.equal((await revokeAsSoleReviewer(t, requestId, "malicious_module")).statusCode, 303);
      // A source that serves the new feed but the key as it was before the revocation.
      proxy.overrides.set(keyUrl(), beforeKey);
      const withheld = await sync(gpg.dir);
      proxy.overrides.clear();
      assert.equal(withheld.code, 6);
      assert.match(withheld.stderr, /withholding a revocation\. Nothing was imported\.\n$/);
      assert.deepEqual(await exported(gpg), keyring);
      assert.equal(await sequenceIn(gpg.dir), accepted, "a refused run stores no sequence");

      // A source that serves the new feed and the key with the master's revocation replaced by a
      // packet of the same type that does not verify: GnuPG would drop it and keep trusting.
      proxy.overrides.set(keyUrl(), await withForgedRevocations(await (await fetch(new URL(keyUrl().slice(1), portal))).text()));
      const forged = await sync(gpg.dir);
      proxy.overrides.clear();
      assert.equal(forged.code, 6, forged.stdout);
      assert.match(forged.stderr, /0 valid revocations by the master key; the source is withholding a revocation\. Nothing was imported\.\n$/);
      assert.deepEqual(await exported(gpg), keyring, "nothing of the forged copy was imported");
      assert.match(await verify(gpg), /^\[GNUPG:\] TRUST_FULLY/m);

      const revoked = await sync(gpg.dir);
      assert.equal(revoked.code, 0, revoked.stderr);
      assert.match(revoked.stdout, /: 1 key, 1 imported or updated, 0 unchanged\n$/);
      const status = await verify(gpg);
      assert.match(status, /^\[GNUPG:\] GOODSIG /m, "the signature itself is still good");
      assert.doesNotMatch(status, /TRUST_(FULLY|ULTIMATE)/, "but no longer trusted");
      assert.ok(freepbxSeesRevoked(await checkSigs(gpg, developer), certified.master), "FreePBX's REVOKED pattern matches");
      const newer = await sequenceIn(gpg.dir);
      assert.ok(newer !== undefined && accepted !== undefined && newer > accepted);

      // The feed from before the revocation, still within its validUntil, replayed.
      const afterRevocation = await exported(gpg);
      proxy.overrides.set("/status/v1/feed.json", before.body);
      proxy.overrides.set("/status/v1/feed.json.sig", before.signature);
      const replayed = await sync(gpg.dir);
      proxy.overrides.clear();
      assert.equal(replayed.code, 6);
      assert.match(replayed.stderr, /^keysign freepbx sync: feed refused, nothing imported \(KEYSIGN_ERR_FEED_ROLLBACK\): The feed has sequence \d+, older than sequence \d+ accepted before/);
      assert.deepEqual(await exported(gpg), afterRevocation);
      assert.equal(await sequenceIn(gpg.dir), newer);
    });
  });

  it("refuses a feed signed by another key and a stale feed, importing nothing and storing nothing", async () => {
    const current = await feedNow();
    const other = await makeQueueKey();
    const parsed = JSON.parse(Buffer.from(current.body).toString("utf8")) as Feed;
    const frozenBody = encodeFeed({ ...parsed, sequence: parsed.sequence + 1, validUntil: new Date(Date.now() - 60_000).toISOString() });
    const cases: Array<[Uint8Array, string, RegExp]> = [
      [current.body, await signDetached(current.body, other.privateKey, new Date()), /\(KEYSIGN_ERR_FEED_SIGNER\): The feed is signed by key .* not by the pinned publication key/],
      [frozenBody, await signDetached(frozenBody, t.app.statusFeed.key.privateKey, new Date()), /\(KEYSIGN_ERR_FEED_STALE\): The feed expired at .*frozen copy/],
    ];
    for (const [body, signature, message] of cases) {
      await withHome(async (gpg) => {
        proxy.overrides.set("/status/v1/feed.json", body);
        proxy.overrides.set("/status/v1/feed.json.sig", new TextEncoder().encode(signature));
        try {
          const run = await sync(gpg.dir);
          assert.equal(run.code, 6, run.stderr);
          assert.match(run.stderr, message);
          assert.equal(run.stdout, "");
        } finally {
          proxy.overrides.clear();
        }
        assert.notEqual((await gpg.run(["--list-keys", developer.fingerprint])).code, 0, "the developer's key was not imported");
        await assert.rejects(stat(path.join(gpg.dir, STATE_FILE)), { code: "ENOENT" });
      });
    }
  });

  it("fetches the feed again once when its signature does not match, as when the portal made a new feed between the two requests", async () => {
    const other = encodeFeed({ ...(JSON.parse(Buffer.from((await feedNow()).body).toString("utf8")) as Feed), sequence: 999 });
    await withHome(async (gpg) => {
      proxy.overrides.set("/status/v1/feed.json.sig", new TextEncoder().encode(await signDetached(other, t.app.statusFeed.key.privateKey, new Date())));
      proxy.once.add("/status/v1/feed.json.sig");
      try {
        const run = await sync(gpg.dir);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(proxy.overrides.size, 0, "the mismatched signature was served");
      } finally {
        proxy.overrides.clear();
        proxy.once.clear();
      }
    });
  });

  it("on a home that already holds FreePBX's own keys, leaves the official module trusted and adds the developer's key", async (test) => {
    const shared = path.resolve(import.meta.dirname, "../../../shared/freepbx");
    if (!(await stat(shared).catch(() => null))) {
      test.skip("the FreePBX reference data (../shared/freepbx beside the project) is absent");
      return;
    }
    const keys = path.join(shared, "keys");
    await withHome(async (gpg) => {
      for (const file of await readdir(keys)) await gpg.ok(["--import", path.join(keys, file)]);
      await gpg.ok(["--import-ownertrust"], { input: "0BDE0BFA09946D732091E26E1588A7366BD35B34:6:\n2016349F5BC6F49340FCCAF99F9169F4B33B4659:6:\n" });
      const official = path.join(shared, "modules/infoservices/module.sig");
      assert.match(await verifyStatus(gpg, official), /^\[GNUPG:\] TRUST_FULLY/m);
      const run = await sync(gpg.dir);
      assert.equal(run.code, 0, run.stderr);
      assert.match(await verifyStatus(gpg, official), /^\[GNUPG:\] VALIDSIG 456D051E9204C27C37D4811BB53D215A755231A3 [\s\S]*^\[GNUPG:\] TRUST_FULLY/m);
      assert.equal((await gpg.run(["--list-keys", developer.fingerprint])).code, 0, "the developer's key was added");
    });
  });

  it("refuses a key served without the owner's revocation, which the feed does not count, and imports it with it", async () => {
    const { id, key: owner } = await submitRequest(t, "owner-revoked@example.org", "Owner");
    const { fingerprint } = await certifyRequest(t, id, { master: certified.master });
    const ownerUrl = `/vks/v1/by-fingerprint/${fingerprint}`;
    const unrevoked = new Uint8Array(await (await fetch(new URL(ownerUrl.slice(1), portal))).arrayBuffer());
    const { publicKey } = await openpgp.revokeKey({ key: await openpgp.readPrivateKey({ armoredKey: owner.privateArmored }), format: "armored" });
    const sent = await fetch(new URL("pks/add", portal), { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ keytext: publicKey }).toString() });
    assert.equal(sent.status, 200, await sent.text());
    await withHome(async (gpg) => {
      // A source that serves the current feed but the key from before its owner revoked it.
      proxy.overrides.set(ownerUrl, unrevoked);
      try {
        const hidden = await sync(gpg.dir);
        assert.equal(hidden.code, 6, hidden.stdout);
        assert.match(hidden.stderr, /is not the published form the signed feed names/);
      } finally {
        proxy.overrides.clear();
      }
      assert.notEqual((await gpg.run(["--list-keys", fingerprint])).code, 0, "nothing was imported");
      const run = await sync(gpg.dir);
      assert.equal(run.code, 0, run.stderr);
      const listed = (await gpg.ok(["--with-colons", "--list-keys", fingerprint])).toString("utf8");
      assert.match(listed, /^pub:r:/m, "the install sees the owner's revocation");
    });
  });

  it("is listed in --help with its exit code 11", async () => {
    const help = await runKeysign(["help"], work);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /freepbx sync --from URL --publication-key FILE \[--gpg-home DIR\] \[--state FILE\]/);
    assert.match(help.stdout, /\n {2}11 freepbx sync could not get the feed or a key/);
  });

  it("ends with exit 11 and one line when the source cannot be reached, and exit 2 on a bad address", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await withHome(async (gpg) => {
      const unreachable = await sync(gpg.dir, `http://127.0.0.1:${port}`);
      assert.equal(unreachable.code, 11);
      assert.match(unreachable.stderr, /^keysign freepbx sync: cannot reach 127\.0\.0\.1:\d+ for GET http:\/\/127\.0\.0\.1:\d+\/status\/v1\/feed\.json \(ECONNREFUSED\)\n$/);
      const missing = await sync(gpg.dir, `${portal}nowhere/`);
      assert.equal(missing.code, 11);
      assert.match(missing.stderr, /nowhere\/status\/v1\/feed\.json answered 404/);
      const ftp = await sync(gpg.dir, "ftp://127.0.0.1/");
      assert.equal(ftp.code, 2);
      assert.match(ftp.stderr, /--from must be an http:\/\/ or https:\/\/ address/);
      await assert.rejects(stat(path.join(gpg.dir, STATE_FILE)), { code: "ENOENT" });
    });
  });
});
