import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { before, describe, it } from "node:test";
import { readKey, type PublicKeyPacket } from "openpgp";
import { inspectionConfig } from "../../../src/core/openpgp-config.ts";
import { checkCertification, checkRevocation, userIdBytes } from "../../../src/core/transfer/certification.ts";
import { openEnvelope, sealEnvelope } from "../../../src/core/transfer/envelope.ts";
import { checkMasterCapabilities, openSoftwareSigner, readMasterPublicKey } from "../../../src/core/transfer/software-signer.ts";
import { makeTestKey } from "../../helpers/keys.ts";
import { makeMasterKey, makeSignOnlyKey, type SigningKey } from "../../helpers/transfer.ts";

const PASSPHRASE = "correct horse battery staple";
const FIXTURES = path.resolve(import.meta.dirname, "../../fixtures/keys");
const PARAMETERS = { validityDays: 30, policyUrl: "https://portal.example/policy", notations: [{ name: "request@portal.example", value: "r1" }] };

let master: SigningKey;

before(async () => {
  master = await makeMasterKey({ passphrase: PASSPHRASE });
});

function open(key: SigningKey, passphrase: string | null) {
  return openSoftwareSigner({ armoredSecretKey: key.secretArmored, passphrase, fingerprint: key.fingerprint, now: new Date() });
}

describe("the software master signer", () => {
  it("refuses a wrong passphrase with a message that does not repeat it", async () => {
    await assert.rejects(open(master, "wrong horse"), (error: Error & { code?: string }) => {
      assert.equal(error.code, "KEYSIGN_ERR_MASTER_PASSPHRASE");
      assert.match(error.message, /passphrase is wrong/);
      assert.doesNotMatch(error.message, /wrong horse/);
      return true;
    });
  });

  it("asks for a passphrase the protected key needs", async () => {
    await assert.rejects(open(master, null), { code: "KEYSIGN_ERR_MASTER_PASSPHRASE" });
  });

  it("refuses a key file holding another key than the pinned master", async () => {
    const other = await makeMasterKey({ passphrase: PASSPHRASE });
    await assert.rejects(open({ ...other, fingerprint: master.fingerprint }, PASSPHRASE), { code: "KEYSIGN_ERR_MASTER_KEY", message: /not the pinned master/ });
  });

  it("refuses a master whose primary cannot certify", async () => {
    const signOnly = await makeSignOnlyKey(PASSPHRASE);
    await assert.rejects(open(signOnly, PASSPHRASE), { code: "KEYSIGN_ERR_MASTER_KEY", message: /cannot certify/ });
    await assert.rejects(checkMasterCapabilities(signOnly.publicKey, new Date()), { message: /cannot certify/ });
  });

  it("refuses a certify-only master: result files are signed by the primary key", async () => {
    const certOnly = await readKey({ armoredKey: await readFile(path.join(FIXTURES, "cert-only-primary.asc"), "utf8") });
    await assert.rejects(checkMasterCapabilities(certOnly, new Date("2026-01-01T00:00:00Z")), { message: /cannot sign result files/ });
  });

  it("reads the public part of a protected key file without its passphrase", async () => {
    const key = await readMasterPublicKey(master.secretArmored);
    assert.equal(key.isPrivate(), false);
    assert.equal(key.getFingerprint().toUpperCase(), master.fingerprint);
  });

  it("certifies, revokes and signs files with an RSA-4096 master", async () => {
    const rsa = await makeMasterKey({ type: "rsa4096", passphrase: PASSPHRASE });
    const signer = await open(rsa, PASSPHRASE);
    const target = await makeTestKey([{ name: "Dev", email: "dev@example.org" }]);
    const targetKey = await readKey({ armoredKey: target.publicArmored });
    const userId = userIdBytes("Dev <dev@example.org>");
    const signingTarget = { key: targetKey.keyPacket as PublicKeyPacket, keyBinary: targetKey.write(), fingerprint: target.fingerprint, userId };
    const date = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expected = { master: rsa.publicKey, target: { key: signingTarget.key, userId }, notBefore: new Date(date.getTime() - 1000), notAfter: new Date(date.getTime() + 1000), config: inspectionConfig({ minRsaBits: 2048 }) };
    const certification = await checkCertification(await signer.certify(signingTarget, PARAMETERS, date), expected, PARAMETERS);
    assert.ok(certification.ok, certification.ok ? "" : certification.failure.message);
    const revocation = await checkRevocation(await signer.revoke(signingTarget, "sealed", date), expected, { notBefore: date, reason: "sealed" });
    assert.ok(revocation.ok, revocation.ok ? "" : revocation.failure.message);
    const payload = new TextEncoder().encode("{}");
    await openEnvelope(sealEnvelope("result", payload, await signer.signFile(payload, date)), "result", rsa.publicKey, "master key");
    await signer.close();
  });
});
