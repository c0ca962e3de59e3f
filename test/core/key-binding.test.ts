/**
 * Which self-signature counts (src/core/key-policy/binding.ts), checked below the public API
 * where later checks would otherwise mask a mistake: only certification types count as
 * certifications, the newest valid one wins, and a weak-hash one that cannot be verified is
 * reported rather than skipped.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { enums, PublicKeyPacket, unarmor } from "openpgp";
import { inspectionConfig } from "../../src/core/openpgp-config.ts";
import { createdAt, selectNewest, type Verifier } from "../../src/core/key-policy/binding.ts";
import { scanPackets } from "../../src/core/key-policy/packets.ts";
import { groupPackets, parseKeyPacket, type CertificateStructure } from "../../src/core/key-policy/structure.ts";

const NOW = new Date("2026-01-01T00:00:00Z");
const CERTIFICATIONS = [enums.signature.certGeneric, enums.signature.certPersona, enums.signature.certCasual, enums.signature.certPositive];

async function load(name: string): Promise<{ structure: CertificateStructure; verifier: Verifier }> {
  const { data } = await unarmor(readFileSync(new URL(`../fixtures/keys/${name}`, import.meta.url), "utf8"));
  assert.ok(data instanceof Uint8Array);
  const structure = await groupPackets(scanPackets(data).packets);
  const primary = await parseKeyPacket(new PublicKeyPacket(), structure.primaryRaw);
  assert.ok(primary);
  return { structure, verifier: { primary, now: NOW, config: inspectionConfig({ minRsaBits: 2048 }) } };
}

function userNamed(structure: CertificateStructure, prefix: string) {
  const user = structure.users.find((candidate) => Buffer.from(candidate.raw).toString("utf8").startsWith(prefix));
  assert.ok(user);
  return user;
}

describe("selectNewest", () => {
  it("does not take a newer certification revocation for a certification", async () => {
    const { structure, verifier } = await load("uid-revoked.asc");
    const dropped = userNamed(structure, "Dropped Name");
    const types = dropped.signatures.map((signature) => signature.layout.signatureType).sort();
    assert.deepEqual(types, [enums.signature.certPositive, enums.signature.certRevocation]);
    const data = { key: verifier.primary, userID: { write: () => dropped.raw } };
    const selection = await selectNewest(dropped.signatures, CERTIFICATIONS, data, verifier, verifier.primary.created);
    assert.equal(selection.state, "valid");
    if (selection.state === "valid") assert.equal(selection.signature.layout.signatureType, enums.signature.certPositive);
  });

  it("ignores signatures issued by other keys", async () => {
    const { structure, verifier } = await load("third-party-certified.asc");
    const eve = userNamed(structure, "Eve Example");
    assert.equal(eve.signatures.length, 3);
    const data = { key: verifier.primary, userID: { write: () => eve.raw } };
    const selection = await selectNewest(eve.signatures, CERTIFICATIONS, data, verifier, verifier.primary.created);
    assert.equal(selection.state, "valid");
    if (selection.state === "valid") assert.equal(createdAt(selection.signature).toISOString(), "2025-01-01T00:00:00.000Z");
  });

  it("picks the newest valid self-signature and reports an unverifiable weak one as weak", async () => {
    const { structure, verifier } = await load("sha1-superseded.asc");
    const user = userNamed(structure, "Sha Renewed");
    const data = { key: verifier.primary, userID: { write: () => user.raw } };
    const newest = await selectNewest(user.signatures, CERTIFICATIONS, data, verifier, verifier.primary.created);
    assert.equal(newest.state === "valid" && newest.signature.layout.hashAlgorithm, enums.hash.sha256);
    const before = { ...verifier, now: new Date("2025-01-15T00:00:00Z") };
    const weak = await selectNewest(user.signatures, CERTIFICATIONS, data, before, verifier.primary.created);
    assert.equal(weak.state === "weak" && weak.signature.layout.hashAlgorithm, enums.hash.sha1);
  });
});
