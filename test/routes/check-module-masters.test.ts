/**
 * "Check a module" after a master rotation: installs trust the retired master and the new one
 * beside the current, so a key certified by the retired master alone is still trusted, and one
 * certified by a master the portal never registered is not.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { serialiseRetiredMasters } from "../../src/core/master-keys.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { multipartBody } from "../helpers/http.ts";
import { signModule } from "../helpers/module-archive.ts";
import { submitRequest } from "../helpers/requests.ts";
import { makeMaster } from "../helpers/signing-queue.ts";

const FILES = { "module.xml": "<module><rawname>hello</rawname></module>\n" };

describe("checking a module after a master rotation", () => {
  let t: TestApp;
  let moduleSig: Buffer;
  before(async () => {
    t = await createTestApp();
    const submitted = await submitRequest(t, "dev@example.org", "Dee Veloper");
    const retired = await makeMaster();
    await certifyRequest(t, submitted.id, { master: retired });
    moduleSig = await signModule(submitted.key.privateArmored, FILES, new Date(t.clock.now.getTime() - 1_800_000));
    // The rotation is over: another master is current, and the one that certified the key is retired.
    const current = await makeMaster();
    const rows: Array<[string, string]> = [
      ["masterPublicKey", current.toPublic().armor()],
      ["masterFingerprint", current.getFingerprint().toUpperCase()],
      ["retiredMasterKeys", serialiseRetiredMasters([{ fingerprint: retired.getFingerprint().toUpperCase(), publicKey: retired.toPublic().armor(), role: "retired", retiredAt: t.clock.now }])],
    ];
    for (const [key, value] of rows) await t.app.db.setting.upsert({ where: { key }, create: { key, value }, update: { value } });
  });
  after(async () => t.close());

  async function verdict(): Promise<string> {
    const { body, contentType } = multipartBody([{ name: "moduleSig", filename: "module.sig", content: moduleSig }]);
    const response = await t.app.inject({ method: "POST", url: "/check-module/json", headers: { "content-type": contentType }, payload: body });
    assert.equal(response.statusCode, 200, response.body);
    return (response.json() as { verdict: string }).verdict;
  }

  it("trusts a key certified by the retired master alone", async () => {
    assert.equal(await verdict(), "trusted");
  });

  it("does not trust it once the portal forgets that master", async () => {
    await t.app.db.setting.update({ where: { key: "retiredMasterKeys" }, data: { value: "[]" } });
    assert.notEqual(await verdict(), "trusted");
  });
});
