/**
 * The static export served by a real nginx with exactly the configuration docs/publication.md
 * gives, fetched by real GnuPG: keys by fingerprint and by every key ID, searches by a
 * consented address, VKS, the feed; then a revocation, a new export swapped in while nginx
 * runs, and a refresh that brings the revocation.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { keyIdsOf } from "../../src/core/publication/published-key.ts";
import { exportSourcesOf } from "../../src/plugins/app/publish-dir.ts";
import { exportStatic } from "../../src/services/static-export.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest, revokeAsSoleReviewer, soleReviewer, type CertifiedRequest } from "../helpers/certified.ts";
import { colonRecords, withGpgHome, type GpgHome } from "../helpers/gpg.ts";
import { exportNginxConfig, freePort, startNginx, type RunningNginx } from "../helpers/nginx.ts";
import { submitRequest } from "../helpers/requests.ts";

const CONSENTED = "published@example.org";
const HIDDEN = "hidden@example.org";

describe("the static export behind nginx, as docs/publication.md configures it", () => {
  let t: TestApp | undefined;
  let nginx: RunningNginx | undefined;
  let workDir = "";
  let exportDir = "";
  let certified: CertifiedRequest;
  let requestId = "";
  let keyIds: string[] = [];

  before(async () => {
    const installed = spawnSync("nginx", ["-v"]);
    if (installed.error || installed.status !== 0) throw new Error("nginx is not installed. Install with: apt-get install -y nginx");
    t = await createTestApp({}, new Date());
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await soleReviewer(t);
    const published = await submitRequest(t, CONSENTED);
    requestId = published.id;
    certified = await certifyRequest(t, published.id);
    // The owner's consent to list the certified user ID (the consent form sets the same column).
    await t.app.db.request.update({ where: { id: published.id }, data: { publishedUserIds: JSON.stringify(certified.certifications.map((entry) => entry.userId)) } });
    const hidden = await submitRequest(t, HIDDEN);
    await certifyRequest(t, hidden.id, { master: certified.master });
    keyIds = await keyIdsOf(certified.canonicalKey);
    workDir = await mkdtemp(path.join(tmpdir(), "keysign-export-"));
    // Readable by nginx's workers, which run as another user when the test runs as root.
    await chmod(workDir, 0o755);
    exportDir = path.join(workDir, "current");
    await exportStatic(exportSourcesOf(t.app), exportDir);
    const port = await freePort();
    nginx = await startNginx(await exportNginxConfig(exportDir, port), port);
  });

  after(async () => {
    await nginx?.stop();
    await t?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const keyserver = () => ["--keyserver", `hkp://127.0.0.1:${nginx?.port}`, "--keyserver-options", "no-self-sigs-only"];
  const masterKeyId = () => certified.master.getKeyID().toHex().toUpperCase();

  async function trustMaster(gpg: GpgHome): Promise<void> {
    await gpg.ok(["--import"], { input: certified.master.toPublic().armor() });
    await gpg.ok(["--import-ownertrust"], { input: `${certified.master.getFingerprint().toUpperCase()}:6:\n` });
  }

  async function signatures(gpg: GpgHome): Promise<string[][]> {
    return colonRecords(await gpg.ok(["--with-colons", "--check-sigs", certified.fingerprint]));
  }

  it("lets GnuPG fetch the key by fingerprint, primary key ID and subkey key ID, with the master's certification", async () => {
    assert.ok(keyIds.length >= 2, "the test key has a subkey");
    for (const id of [certified.fingerprint, ...keyIds, certified.fingerprint.toLowerCase()]) {
      await withGpgHome(async (gpg) => {
        await trustMaster(gpg);
        await gpg.ok([...keyserver(), "--recv-keys", id]);
        const listing = await signatures(gpg);
        assert.ok(listing.some((record) => record[0] === "sig" && record[1] === "!" && record[4] === masterKeyId()), `the certification arrived (${id})`);
        assert.equal(listing.find((record) => record[0] === "uid")?.[1], "f", `full validity through the master (${id})`);
      });
    }
  });

  it("finds the key by its consented address and nothing by an address without consent", async () => {
    await withGpgHome(async (gpg) => {
      const found = await gpg.run([...keyserver(), "--with-colons", "--search-keys", CONSENTED]);
      assert.equal(found.code, 0, found.stderr);
      assert.ok(colonRecords(found.stdout).some((record) => record[0] === "pub" && record[1] === certified.fingerprint), found.stdout.toString());
      const hidden = await gpg.run([...keyserver(), "--with-colons", "--search-keys", HIDDEN]);
      assert.ok(!colonRecords(hidden.stdout).some((record) => record[0] === "pub"), hidden.stdout.toString());
      assert.match(hidden.stderr, /No data|not found/i);
    });
  });

  it("answers the HKP and VKS URLs with the bytes and types the portal answers", async () => {
    const app = t?.app;
    assert.ok(app && nginx);
    const fingerprintLower = certified.fingerprint.toLowerCase();
    const urls = [
      `/pks/lookup?op=get&options=mr&search=0x${certified.fingerprint}`,
      `/pks/lookup?op=get&options=mr&search=0x${fingerprintLower}`,
      ...keyIds.map((id) => `/pks/lookup?op=get&options=mr&search=0x${id}`),
      ...keyIds.map((id) => `/pks/lookup?op=index&options=mr&search=0x${id.toLowerCase()}`),
      `/pks/lookup?op=vindex&options=mr&search=0x${certified.fingerprint}`,
      `/pks/lookup?op=index&options=mr&search=${CONSENTED}`,
      `/pks/lookup?op=get&options=mr&search=${encodeURIComponent(CONSENTED)}`,
      `/vks/v1/by-fingerprint/${certified.fingerprint}`,
      `/vks/v1/by-fingerprint/${fingerprintLower}`,
      ...keyIds.map((id) => `/vks/v1/by-keyid/${id}`),
      `/vks/v1/by-email/${encodeURIComponent(CONSENTED)}`,
      `/keyring.asc`,
    ];
    for (const url of urls) {
      const served = await fetch(`${nginx.base}${url}`);
      assert.equal(served.status, 200, url);
      const body = await served.text();
      if (url === "/keyring.asc") {
        assert.match(body, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
        continue;
      }
      const portal: LightMyRequestResponse = await app.inject({ method: "GET", url });
      assert.equal(portal.statusCode, 200, url);
      assert.equal(body, portal.body, url);
      assert.equal(served.headers.get("content-type")?.split(";")[0], portal.headers["content-type"]?.toString().split(";")[0], url);
    }
  });

  it("refuses what the portal refuses and finds nothing for what it does not publish", async () => {
    assert.ok(nginx);
    const cases: Array<[string, number]> = [
      ["/pks/lookup?op=stats&search=0x" + certified.fingerprint, 501],
      [`/pks/lookup?op=get&search=0x${certified.fingerprint.slice(-8)}`, 400],
      ["/pks/lookup?op=index&search=published", 400],
      ["/pks/lookup?op=index&search=*", 400],
      ["/pks/lookup?op=get&search=..%2F..%2Fkeyring", 400],
      [`/pks/lookup?op=get&search=${HIDDEN}`, 404],
      [`/pks/lookup?op=get&search=0x${"A".repeat(40)}`, 404],
      [`/vks/v1/by-email/${HIDDEN}`, 404],
      ["/pks/by-id/" + certified.fingerprint + ".asc", 404],
      ["/.keysign-export", 404],
    ];
    for (const [url, status] of cases) {
      const response = await fetch(`${nginx.base}${url}`);
      assert.equal(response.status, status, url);
      await response.arrayBuffer();
    }
  });

  it("serves the feed, its signature and the publication key as the portal does, and the key's page", async () => {
    const app = t?.app;
    assert.ok(app && nginx);
    for (const url of ["/status/v1/feed.json", "/status/v1/feed.json.sig", "/status/v1/publication-key.asc", `/keys/${certified.fingerprint}`, "/keys"]) {
      const served = await fetch(`${nginx.base}${url}`);
      assert.equal(served.status, 200, url);
      const portal: LightMyRequestResponse = await app.inject({ method: "GET", url });
      assert.deepEqual(Buffer.from(await served.arrayBuffer()), portal.rawPayload, url);
      assert.equal(served.headers.get("content-type")?.split(";")[0], portal.headers["content-type"]?.toString().split(";")[0], url);
    }
    const css = await fetch(`${nginx.base}/public/css/keysign.css`);
    assert.equal(css.status, 200);
    assert.equal(css.headers.get("content-type")?.split(";")[0], "text/css");
  });

  it("brings the revocation to GnuPG's refresh after a new export is swapped in while nginx runs", async () => {
    const app = t?.app;
    assert.ok(app && t);
    await withGpgHome(async (gpg) => {
      await trustMaster(gpg);
      await gpg.ok([...keyserver(), "--recv-keys", certified.fingerprint]);
      assert.ok(!(await signatures(gpg)).some((record) => record[0] === "rev"));
      assert.equal((await revokeAsSoleReviewer(t as TestApp, requestId, "key_compromised")).statusCode, 303);
      await exportStatic(exportSourcesOf(app), exportDir);
      await gpg.ok([...keyserver(), "--refresh-keys", certified.fingerprint]);
      const refreshed = await signatures(gpg);
      assert.ok(refreshed.some((record) => record[0] === "rev" && record[1] === "!" && record[4] === masterKeyId()), "the master's revocation arrived");
      assert.notEqual(refreshed.find((record) => record[0] === "uid")?.[1], "f");
    });
  });
});
