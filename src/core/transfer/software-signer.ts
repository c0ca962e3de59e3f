/**
 * The software backend of the offline signer: the master key as an armored secret key file,
 * unlocked with its passphrase in this process. Certifications and revocations are built field
 * by field (certification.ts); the result file is signed by the primary key (envelope.ts).
 */
import { decryptKey, readKey, readPrivateKey, type PrivateKey, type PublicKey } from "openpgp";
import { KeysignError } from "../../errors.ts";
import { inspectionConfig } from "../openpgp-config.ts";
import { formatFingerprint } from "../key-policy/fingerprint.ts";
import { makeCertification, makeRevocation } from "./certification.ts";
import { signDetached } from "./envelope.ts";
import type { CertificationParameters } from "./formats.ts";
import type { MasterSigner, SigningTarget } from "./master-signer.ts";

/** The master key cannot be used: wrong passphrase, wrong key, missing capability, backend failure. */
export class MasterKeyError extends KeysignError {
  override name = "MasterKeyError";
  constructor(message: string, code = "KEYSIGN_ERR_MASTER_KEY") {
    super(code, message, 500);
  }
}

/** Bit 0x01 of the first key-flags octet (RFC 9580 §5.2.3.29). */
const CERTIFY_FLAG = 0x01;

function config() {
  return inspectionConfig({ minRsaBits: 2048 });
}

/**
 * Refuses a master key whose primary key cannot do both jobs at `now`: certify (the key flags
 * of its primary user's newest self-signature include "certify") and sign data (the result
 * file's signature must come from the primary key, not a subkey).
 */
export async function checkMasterCapabilities(key: PublicKey | PrivateKey, now: Date): Promise<void> {
  const name = formatFingerprint(key.getFingerprint());
  let flags: number;
  try {
    await key.verifyPrimaryKey(now, undefined, config());
    const { selfCertification } = await key.getPrimaryUser(now, undefined, config());
    flags = selfCertification.keyFlags?.[0] ?? 0;
  } catch {
    throw new MasterKeyError(`The master key ${name} is expired, revoked or has no valid self-signature.`);
  }
  if ((flags & CERTIFY_FLAG) === 0) {
    throw new MasterKeyError(`The master key ${name} cannot certify: its primary key's self-signature does not carry the "certify" key flag.`);
  }
  const primarySigns = await key.getSigningKey(key.getKeyID(), now, undefined, config()).then(
    () => true,
    () => false,
  );
  if (!primarySigns) {
    throw new MasterKeyError(`The master key ${name} cannot sign result files: its primary key lacks the "sign" key flag (a certify-only key cannot be used).`);
  }
}

/** Reads the public part of an armored master key file, secret or public; the passphrase is not needed. */
export async function readMasterPublicKey(armored: string): Promise<PublicKey> {
  try {
    const key = await readKey({ armoredKey: armored, config: config() });
    return key.isPrivate() ? key.toPublic() : key;
  } catch {
    throw new MasterKeyError("The master key file is not an armored OpenPGP key.");
  }
}

export interface SoftwareSignerOptions {
  armoredSecretKey: string;
  /** null when the key file is not passphrase-protected. */
  passphrase: string | null;
  /** The pinned master fingerprint; the file must hold exactly this key. */
  fingerprint: string;
  now: Date;
}

/** Reads and unlocks the master key; throws a MasterKeyError that never repeats the passphrase. */
export async function openSoftwareSigner(options: SoftwareSignerOptions): Promise<MasterSigner> {
  const key = await readSecret(options.armoredSecretKey);
  const fingerprint = key.getFingerprint().toUpperCase();
  if (fingerprint !== options.fingerprint) {
    throw new MasterKeyError(`The key file holds key ${formatFingerprint(fingerprint)}, not the pinned master ${formatFingerprint(options.fingerprint)}.`);
  }
  await checkMasterCapabilities(key, options.now);
  const unlocked = await unlock(key, options.passphrase);
  return new SoftwareSigner(unlocked);
}

async function readSecret(armored: string): Promise<PrivateKey> {
  try {
    return await readPrivateKey({ armoredKey: armored, config: config() });
  } catch {
    throw new MasterKeyError("The master key file is not an armored OpenPGP secret key.");
  }
}

async function unlock(key: PrivateKey, passphrase: string | null): Promise<PrivateKey> {
  if (key.isDecrypted()) return key;
  if (passphrase === null) throw new MasterKeyError("The master key file is passphrase-protected; a passphrase is needed.", "KEYSIGN_ERR_MASTER_PASSPHRASE");
  try {
    return await decryptKey({ privateKey: key, passphrase, config: config() });
  } catch {
    throw new MasterKeyError("The passphrase is wrong (or the key file is damaged); nothing was signed.", "KEYSIGN_ERR_MASTER_PASSPHRASE");
  }
}

class SoftwareSigner implements MasterSigner {
  readonly fingerprint: string;

  constructor(private readonly key: PrivateKey) {
    this.fingerprint = key.getFingerprint().toUpperCase();
  }

  certify(target: SigningTarget, parameters: CertificationParameters, date: Date): Promise<Uint8Array> {
    return makeCertification(this.key, { key: target.key, userId: target.userId }, parameters, date);
  }

  revoke(target: SigningTarget, reason: string, date: Date): Promise<Uint8Array> {
    return makeRevocation(this.key, { key: target.key, userId: target.userId }, reason, date);
  }

  signFile(payload: Uint8Array, date: Date): Promise<string> {
    return signDetached(payload, this.key, date);
  }

  /** Nothing to release: the unlocked key lives only in this process's memory. */
  async close(): Promise<void> {}
}
