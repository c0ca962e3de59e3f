import type { PublicKeyPacket } from "openpgp";
import type { CertificationParameters } from "./formats.ts";

/** The key and user ID one certification is about. */
export interface SigningTarget {
  /** The target's primary key packet, parsed. */
  key: PublicKeyPacket;
  /**
   * The whole canonical key, binary, as the batch carries it; for a revocation, with the
   * certification being revoked placed after its user ID, so GnuPG can find what it revokes.
   */
  keyBinary: Uint8Array;
  /** Upper-case hex fingerprint of the target. */
  fingerprint: string;
  /** The user ID's exact bytes (UTF-8). */
  userId: Uint8Array;
}

/**
 * What the offline signer needs from the master key. Two implementations: a software key
 * (openpgp.js) and the officer's GnuPG keyring, which may hold the key on a smartcard. Both
 * are unlocked when opened, before any item is reviewed.
 */
export interface MasterSigner {
  /** Upper-case hex fingerprint of the master primary key. */
  readonly fingerprint: string;
  /** One signature packet (with header): a 0x10 certification with exactly these parameters. */
  certify(target: SigningTarget, parameters: CertificationParameters, date: Date): Promise<Uint8Array>;
  /**
   * One signature packet (with header): the 0x30 revocation of the master's certification of
   * this user ID, reason code 0 with `reason` as its text, dated `date` (a backend on the wall
   * clock waits until then).
   */
  revoke(target: SigningTarget, reason: string, date: Date): Promise<Uint8Array>;
  /** An armored detached binary-document signature of `payload` by the primary key, SHA-256. */
  signFile(payload: Uint8Array, date: Date): Promise<string>;
  /** Releases what the backend holds (temporary keyrings); called once at the end. */
  close(): Promise<void>;
}
