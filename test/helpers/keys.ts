import * as openpgp from "openpgp";

export interface TestKey {
  publicArmored: string;
  privateArmored: string;
  fingerprint: string;
  /** Detached armored signature of `data` made with this key. */
  sign: (data: Uint8Array) => Promise<string>;
}

/**
 * A fresh v4 Ed25519 key (legacy EdDSA, what GnuPG 2.2 reads) with a Curve25519 encryption
 * subkey (unless `encryptionSubkey` is false: then a signing primary alone), made by openpgp.js.
 */
export async function makeTestKey(
  userIDs: Array<{ name: string; email: string }>,
  { date = new Date("2026-01-01T00:00:00Z"), expiresInSeconds = 0, encryptionSubkey = true }: { date?: Date; expiresInSeconds?: number; encryptionSubkey?: boolean } = {},
): Promise<TestKey> {
  const subkeys = encryptionSubkey ? [{}] : [];
  const { privateKey, publicKey } = await openpgp.generateKey({ type: "ecc", curve: "ed25519Legacy", userIDs, date, keyExpirationTime: expiresInSeconds, subkeys, format: "armored" });
  const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return {
    publicArmored: publicKey,
    privateArmored: privateKey,
    fingerprint: key.getFingerprint().toUpperCase(),
    sign: async (data) => {
      const message = await openpgp.createMessage({ binary: data });
      return openpgp.sign({ message, signingKeys: key, detached: true, format: "armored", date: new Date(date.getTime() + 1000) });
    },
  };
}
