/**
 * What a module.sig must be before anything in it is believed: bounded in size, one clear-signed
 * message with exactly one text signature, and keys that are public keys. Each rule here would
 * let a file through if it were removed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as openpgp from "openpgp";
import { clearSignedModuleSig, moduleSigText } from "../../../src/core/module-sig/format.ts";
import { loadKeys } from "../../../src/core/module-sig/keyring.ts";
import { MAX_MODULE_SIG_BYTES, readClearSigned } from "../../../src/core/module-sig/signature.ts";
import { checkSignature, judgeModule } from "../../../src/core/module-sig/verify.ts";
import { makeTestKey, type TestKey } from "../../helpers/keys.ts";

const TEXT = moduleSigText({ signedWith: "0".repeat(40), repo: "", type: "public", hashes: [{ path: "module.xml", sha256: "a".repeat(64) }] });

async function clearSign(keys: TestKey[], text = TEXT): Promise<string> {
  const signingKeys = await Promise.all(keys.map((key) => openpgp.readPrivateKey({ armoredKey: key.privateArmored })));
  const message = await openpgp.createCleartextMessage({ text: text.replace(/\n$/, "") });
  return openpgp.sign({ message, signingKeys, date: new Date("2026-02-01T00:00:00Z") });
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("reading a module.sig", () => {
  it("verifies a good one, and names the signer from the signature", async () => {
    const developer = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const keys = (await loadKeys([{ source: "dev", bytes: bytes(developer.publicArmored) }])).keys;
    const findings = await checkSignature({ moduleSig: bytes(await clearSign([developer])), keys, masters: [developer.fingerprint], now: new Date() });
    assert.equal(findings.freepbx.status, 129, "a master's own signature is trusted (ultimate)");
    assert.equal(findings.signer?.fingerprint, developer.fingerprint);
    assert.equal(findings.fields?.signedWith, "0".repeat(40), "signedwith is read, and ignored for trust");
    assert.equal(judgeModule(findings, new Map([["module.xml", "a".repeat(64)]])).verdict, "trusted");
  });

  it("refuses a module.sig over 2 MiB before parsing it", async () => {
    const developer = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const signed = await clearSign([developer], `${TEXT};${"x".repeat(MAX_MODULE_SIG_BYTES)}\n`);
    const read = await readClearSigned(bytes(signed));
    assert.equal(read.ok, false);
    assert.match(read.ok ? "" : read.reason, /more than the 2097152 a module\.sig may have/);
  });

  it("refuses two signatures in the block: exactly one signature packet", async () => {
    const one = await makeTestKey([{ name: "One", email: "one@example.org" }]);
    const two = await makeTestKey([{ name: "Two", email: "two@example.org" }]);
    const read = await readClearSigned(bytes(await clearSign([one, two])));
    assert.equal(read.ok, false);
    assert.match(read.ok ? "" : read.reason, /exactly one signature packet/);
  });

  it("refuses text before the message, a second message, and a signature that is not a text signature", async () => {
    const developer = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const signed = await clearSign([developer]);
    for (const bad of [`note\n${signed}`, `${signed}${signed}`]) {
      const read = await readClearSigned(bytes(bad));
      assert.equal(read.ok, false);
      assert.match(read.ok ? "" : read.reason, /not one clear-signed message/);
    }
    const key = await openpgp.readPrivateKey({ armoredKey: developer.privateArmored });
    const binary = await openpgp.sign({ message: await openpgp.createMessage({ binary: bytes(TEXT) }), signingKeys: key, detached: true });
    const read = await readClearSigned(bytes(clearSignedModuleSig(TEXT, "SHA256", binary)));
    assert.equal(read.ok, false);
    assert.match(read.ok ? "" : read.reason, /not a clear-text signature/);
  });

  it("writes LF only and dash-escapes, and reads back what it signed", async () => {
    const developer = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const text = moduleSigText({ signedWith: developer.fingerprint, repo: "", type: "public", hashes: [{ path: "-dash.php", sha256: "b".repeat(64) }] });
    const signed = await clearSign([developer], text);
    const written = clearSignedModuleSig(text, "SHA512", signed.slice(signed.indexOf("-----BEGIN PGP SIGNATURE-----")));
    assert.ok(!written.includes("\r"));
    assert.match(written, /^- -dash\.php = b{64}$/m);
    const read = await readClearSigned(bytes(written));
    assert.ok(read.ok);
    assert.equal(read.text, text.replace(/\n$/, ""));
  });
});

describe("key material", () => {
  it("skips secret key material and damaged data, saying which and why", async () => {
    const developer = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const loaded = await loadKeys([
      { source: "secret.key", bytes: bytes(developer.privateArmored) },
      { source: "junk.key", bytes: new Uint8Array([0x99, 0x01]) },
      { source: "good.key", bytes: bytes(developer.publicArmored) },
    ]);
    assert.equal(loaded.keys.length, 1);
    assert.deepEqual(loaded.problems, ["secret.key: holds secret key material; give public keys only (and keep that file private)", "junk.key: damaged OpenPGP data"]);
  });
});
