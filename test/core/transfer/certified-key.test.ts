import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { canonicalizeKey, DEFAULT_KEY_POLICY, inspectKey } from "../../../src/core/key-policy.ts";
import { equalBytes, scanPackets, TAG } from "../../../src/core/key-policy/packets.ts";
import { makeCertification, makeRevocation, userIdBytes } from "../../../src/core/transfer/certification.ts";
import { assembleCertifiedKey } from "../../../src/core/transfer/certified-key.ts";
import { colonRecords, unescapeColonField, withGpgHome } from "../../helpers/gpg.ts";
import { makeTestKey } from "../../helpers/keys.ts";

const NOW = new Date("2026-11-24T12:00:00Z");
const SIGNED = new Date("2026-11-24T11:00:00Z");
const REVOKED = new Date("2026-11-24T11:30:00Z");
const PARAMETERS = { validityDays: 730, policyUrl: "", notations: [{ name: "request@keysign.example", value: "r-1" }] };
const ALICE = "Alice <alice@example.org>";
const WORK = "Alice at Work <alice@work.example>";

describe("the certified key", () => {
  let canonical: Uint8Array;
  let master: openpgp.PrivateKey;
  let masterArmored: string;
  const certifications = new Map<string, Uint8Array>();
  const revocations = new Map<string, Uint8Array>();

  before(async () => {
    const applicant = await makeTestKey([{ name: "Alice", email: "alice@example.org" }, { name: "Alice at Work", email: "alice@work.example" }]);
    const options = { ...DEFAULT_KEY_POLICY, now: NOW };
    const inspected = await inspectKey(new TextEncoder().encode(applicant.publicArmored), options);
    if (!inspected.ok) assert.fail(JSON.stringify(inspected.problems));
    canonical = (await canonicalizeKey(inspected.minimal, [ALICE, WORK], options)).binary;
    const generated = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs: [{ name: "Keysign Master", email: "master@keysign.example" }], date: new Date("2026-01-01T00:00:00Z"), format: "object" });
    master = generated.privateKey;
    masterArmored = generated.publicKey.armor();
    const keyPacket = (await openpgp.readKey({ binaryKey: canonical })).keyPacket as openpgp.PublicKeyPacket;
    for (const userId of [ALICE, WORK]) {
      const target = { key: keyPacket, userId: userIdBytes(userId) };
      certifications.set(userId, await makeCertification(master, target, PARAMETERS, SIGNED));
      revocations.set(userId, await makeRevocation(master, target, "key compromised", REVOKED));
    }
  });

  function cert(userId: string): Uint8Array {
    return certifications.get(userId) ?? assert.fail("no certification");
  }

  function rev(userId: string): Uint8Array {
    return revocations.get(userId) ?? assert.fail("no revocation");
  }

  /** The packet sequence as tags, with each signature named by its type. */
  function layout(bytes: Uint8Array): string[] {
    const scan = scanPackets(bytes);
    assert.ok(scan.complete);
    return scan.packets.map((p) => (p.tag === TAG.signature ? `sig:${(p.body[1] ?? 0).toString(16)}` : p.tag === TAG.userId ? `uid:${new TextDecoder().decode(p.body)}` : `tag:${p.tag}`));
  }

  it("is the canonical key, byte for byte, when there is nothing to add", () => {
    assert.ok(equalBytes(assembleCertifiedKey(canonical, []), canonical));
  });

  it("puts each certification right after its user ID's self-signature, and the revocation after it", () => {
    const assembled = assembleCertifiedKey(canonical, [
      { userId: WORK, certification: cert(WORK), revocation: rev(WORK) },
      { userId: ALICE, certification: cert(ALICE) },
    ]);
    assert.deepEqual(layout(assembled), ["tag:6", `uid:${ALICE}`, "sig:13", "sig:10", `uid:${WORK}`, "sig:13", "sig:10", "sig:30", "tag:14", "sig:18"]);
  });

  it("keeps only one user ID and its own certification, caff style", () => {
    const assembled = assembleCertifiedKey(canonical, [{ userId: ALICE, certification: cert(ALICE) }, { userId: WORK, certification: cert(WORK) }], { onlyUserId: WORK });
    assert.deepEqual(layout(assembled), ["tag:6", `uid:${WORK}`, "sig:13", "sig:10", "tag:14", "sig:18"]);
  });

  it("keeps every ceremony's certification of a user ID, each followed by its revocation, in the order given", async () => {
    const keyPacket = (await openpgp.readKey({ binaryKey: canonical })).keyPacket as openpgp.PublicKeyPacket;
    const again = await makeCertification(master, { key: keyPacket, userId: userIdBytes(ALICE) }, PARAMETERS, new Date(REVOKED.getTime() + 86_400_000));
    const assembled = assembleCertifiedKey(canonical, [
      { userId: ALICE, certification: cert(ALICE), revocation: rev(ALICE) },
      { userId: ALICE, certification: again },
    ]);
    assert.deepEqual(layout(assembled), ["tag:6", `uid:${ALICE}`, "sig:13", "sig:10", "sig:30", "sig:10", `uid:${WORK}`, "sig:13", "tag:14", "sig:18"]);
  });

  it("fails if a certification names a user ID the key does not have", () => {
    assert.throws(() => assembleCertifiedKey(canonical, [{ userId: "Mallory <mallory@example.org>", certification: cert(ALICE) }]), /user ID the key does not have/);
    assert.throws(() => assembleCertifiedKey(canonical, [], { onlyUserId: "Alice <ALICE@example.org>" }), /not in the key/);
  });

  it("fails if an entry is not exactly one signature packet, or the same certification is given twice", () => {
    const two = new Uint8Array([...cert(ALICE), ...cert(ALICE)]);
    assert.throws(() => assembleCertifiedKey(canonical, [{ userId: ALICE, certification: two }]), /exactly one signature packet/);
    assert.throws(() => assembleCertifiedKey(canonical, [{ userId: ALICE, certification: cert(ALICE).subarray(0, 20) }]), /exactly one signature packet/);
    assert.throws(() => assembleCertifiedKey(canonical, [{ userId: ALICE, certification: cert(ALICE), revocation: canonical }]), /exactly one signature packet/);
    const once = cert(ALICE);
    assert.throws(() => assembleCertifiedKey(canonical, [{ userId: ALICE, certification: once }, { userId: ALICE, certification: once }]), /same certification is given twice/);
  });

  it("fails if the stored key is not a binary public key", () => {
    assert.throws(() => assembleCertifiedKey(cert(ALICE), []), /not a binary public key/);
    assert.throws(() => assembleCertifiedKey(new Uint8Array([...canonical, ...canonical]), []), /packets a canonical key does not have/);
  });

  it("imports into GnuPG with the master certification good, and the revocation good once added", async () => {
    const masterKeyId = master.getKeyID().toHex().toUpperCase();
    const check = (bytes: Uint8Array) =>
      withGpgHome(async (gpg) => {
        await gpg.ok(["--import"], { input: masterArmored, at: NOW });
        await gpg.ok(["--import"], { input: bytes, at: NOW });
        const records = colonRecords(await gpg.ok(["--with-colons", "--fixed-list-mode", "--check-sigs", `0x${(await openpgp.readKey({ binaryKey: canonical })).getFingerprint()}`], { at: NOW }));
        // Each signature record with the user ID it is on: "uid|kind|check|issuer|class".
        let uid = "";
        return records.flatMap((r) => {
          if (r[0] === "uid") uid = unescapeColonField(r[9] ?? "");
          return r[0] === "sig" || r[0] === "rev" ? [`${uid}|${r[0]}|${r[1]}|${r[4]}|${r[10]}`] : [];
        });
      });
    const certified = await check(assembleCertifiedKey(canonical, [{ userId: ALICE, certification: cert(ALICE) }], { onlyUserId: ALICE }));
    assert.ok(certified.includes(`${ALICE}|sig|!|${masterKeyId}|10x`), certified.join("\n"));
    const revoked = await check(assembleCertifiedKey(canonical, [{ userId: ALICE, certification: cert(ALICE), revocation: rev(ALICE) }, { userId: WORK, certification: cert(WORK) }]));
    // GnuPG lists a revocation's class with its reason code: "30x,00".
    assert.ok(revoked.some((line) => line.startsWith(`${ALICE}|rev|!|${masterKeyId}|30x`)), revoked.join("\n"));
    assert.ok(revoked.includes(`${WORK}|sig|!|${masterKeyId}|10x`), revoked.join("\n"));
  });
});
