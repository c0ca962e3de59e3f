/**
 * The portal's queue key: its own online Ed25519 key that signs batches (never the master key).
 * Generated on first start into the data directory (mode 0600) unless a key file is configured;
 * the offline signer pins its public half.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { generateKey, readPrivateKey, type PrivateKey, type PublicKey } from "openpgp";
import { armorPublicKey } from "../core/key-policy.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { StartupError } from "../startup.ts";
import { isMissingFile } from "./data-dir.ts";

export interface QueueKey {
  privateKey: PrivateKey;
  publicKey: PublicKey;
  /** Upper-case hex fingerprint. */
  fingerprint: string;
  publicArmored: string;
}

export function loadOrCreateQueueKey(file: string, hostname: string, now: Date): Promise<QueueKey> {
  return loadOrCreatePortalKey(file, { name: "Keysign queue key", email: `queue@${hostname}` }, now);
}

/**
 * The portal's publication key, made like the queue key but separate: the queue key speaks only
 * to the offline signer, this one signs what installs read (the status feed).
 */
export function loadOrCreatePublicationKey(file: string, hostname: string, now: Date): Promise<QueueKey> {
  return loadOrCreatePortalKey(file, { name: "Keysign publication key", email: `publication@${hostname}` }, now);
}

async function loadOrCreatePortalKey(file: string, identity: { name: string; email: string }, now: Date): Promise<QueueKey> {
  const config = inspectionConfig({ minRsaBits: 2048 });
  let armored: string;
  try {
    armored = await readFile(file, "utf8");
  } catch (error) {
    if (!isMissingFile(error)) throw error;
    const generated = await generateKey({
      type: "ecc",
      curve: "ed25519Legacy",
      userIDs: [identity],
      date: now,
      format: "armored",
      config,
    });
    armored = generated.privateKey;
    await writeFile(`${file}.tmp`, armored, { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }
  const privateKey = await readPrivateKey({ armoredKey: armored, config }).catch(() => {
    throw new StartupError(
      `${file} is not a readable OpenPGP secret key (damaged?). Restore it from a backup; deleting it makes a new key that everyone who pinned this one must pin again.`,
    );
  });
  if (!privateKey.isDecrypted()) throw new StartupError(`the key in ${file} is protected by a passphrase; the portal needs it unprotected.`);
  const publicKey = privateKey.toPublic();
  return { privateKey, publicKey, fingerprint: publicKey.getFingerprint().toUpperCase(), publicArmored: armorPublicKey(publicKey.write()) };
}
