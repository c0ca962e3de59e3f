import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { armorPublicKey } from "../../src/core/key-policy.ts";

describe("armorPublicKey", () => {
  it("writes the CRC line GnuPG 2.2 needs, and no version or comment header", async () => {
    const binary = await readFile(path.resolve(import.meta.dirname, "../fixtures/keys/ed25519-good.gpg"));
    const armored = armorPublicKey(binary);
    const lines = armored.trim().split(/\r?\n/);
    assert.equal(lines[0], "-----BEGIN PGP PUBLIC KEY BLOCK-----");
    assert.equal(lines[1], "", "the header block is empty");
    assert.match(lines.at(-2) ?? "", /^=[A-Za-z0-9+/]{4}$/);
    assert.equal(lines.at(-1), "-----END PGP PUBLIC KEY BLOCK-----");
  });
});
