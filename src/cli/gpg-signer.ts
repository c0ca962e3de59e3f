/**
 * The GnuPG backend of the offline signer: the master's secret key stays where the officer's
 * GnuPG keeps it (its keyring or a smartcard, through gpg-agent), so it never passes through
 * this process.
 *
 * Each operation uses a fresh temporary keyring holding only public material (the master's
 * public key and the one target key) and a temporary trust database, so nothing is added to
 * the officer's keyring and no earlier signature makes GnuPG skip a user ID. The new signature
 * is then taken from an export of that keyring: the packet after the user ID, issued by the
 * master (hashed issuer fingerprint), of the expected type. sign-batch checks each one as the
 * portal will before anything is written.
 *
 * GnuPG signs at its own clock, so the interface's `date` arguments are not taken, except that
 * a revocation waits until its date has come (a sealed revocation is one second younger than
 * its certification).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { readKey, type PublicKey } from "openpgp";
import { formatFingerprint } from "../core/key-policy.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { scanPackets, TAG, equalBytes, writePacket } from "../core/key-policy/packets.ts";
import { parseSignature } from "../core/key-policy/structure.ts";
import { CERTIFICATION_REVOCATION, CERTIFICATION_TYPES } from "../core/transfer/certification.ts";
import { issuerFingerprint } from "../core/transfer/envelope.ts";
import type { CertificationParameters } from "../core/transfer/formats.ts";
import type { MasterSigner, SigningTarget } from "../core/transfer/master-signer.ts";
import { MasterKeyError } from "../core/transfer/software-signer.ts";
import { explainStatus, runGpg, type GpgAnswers, type GpgEnvironment, type GpgOutcome } from "./gpg-process.ts";

export interface GpgSignerOptions {
  environment: GpgEnvironment;
  fingerprint: string;
  /** With a file, gpg reads the passphrase from it (loopback pinentry); without, gpg-agent asks. */
  passphraseFile: string | null;
}

/** Fails with what GnuPG's status lines say, plus its last message lines (never key material). */
function failure(what: string, outcome: GpgOutcome): MasterKeyError {
  const because = outcome.unanswered !== null ? `GnuPG asked an unexpected question (${outcome.unanswered})` : explainStatus(outcome.status);
  const said = outcome.stderr
    .split("\n")
    .filter((line) => line.startsWith("gpg: "))
    .slice(-3)
    .join(" / ");
  return new MasterKeyError(`GnuPG could not ${what}: ${because ?? `it exited with code ${outcome.code}`}${said ? ` (${said})` : ""}.`);
}

/** The master's public key as the officer's GnuPG has it (binary). */
export async function exportMasterKey(environment: GpgEnvironment, fingerprint: string): Promise<{ binary: Uint8Array; key: PublicKey }> {
  const outcome = await runGpg(environment, ["--export", fingerprint]);
  if (outcome.code !== 0 || outcome.stdout.length === 0) {
    throw new MasterKeyError(`The GnuPG keyring has no key ${formatFingerprint(fingerprint)}${environment.homedir ? ` (GnuPG home ${environment.homedir})` : ""}.`);
  }
  const binary = new Uint8Array(outcome.stdout);
  const key = await readKey({ binaryKey: binary, config: inspectionConfig({ minRsaBits: 2048 }) });
  if (key.getFingerprint().toUpperCase() !== fingerprint) throw new MasterKeyError(`GnuPG exported another key than ${formatFingerprint(fingerprint)}.`);
  return { binary, key };
}

/** Refuses when GnuPG has no usable secret for the primary key (missing, or only a stub). */
export async function checkSecretKey(environment: GpgEnvironment, fingerprint: string): Promise<void> {
  const outcome = await runGpg(environment, ["--with-colons", "--list-secret-keys", fingerprint]);
  const primary = outcome.stdout
    .toString("utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === "sec");
  // Field 15: "+" secret here, "#" stub (secret absent), a serial number when on a card.
  const token = primary?.[14] ?? "";
  if (outcome.code !== 0 || primary === undefined || token === "#" || token === "") {
    throw new MasterKeyError(`GnuPG has no secret key for the master's primary key ${formatFingerprint(fingerprint)}; sign on the machine (or with the card) that holds it.`);
  }
}

/**
 * Opens the signer and unlocks the master key at once with a test signature, so a wrong
 * passphrase (or a missing card) shows before the officer reviews a single item, not after.
 */
export async function openGpgSigner(options: GpgSignerOptions): Promise<MasterSigner> {
  await checkSecretKey(options.environment, options.fingerprint);
  const master = await exportMasterKey(options.environment, options.fingerprint);
  const directory = await mkdtemp(path.join(tmpdir(), "keysign-gpg-"));
  const signer = new GpgSigner(options, master.binary, directory);
  try {
    await signer.signBytes(new TextEncoder().encode("keysign: unlock the master key before the ceremony\n"), "unlock the master key");
    return signer;
  } catch (error) {
    await signer.close();
    throw error;
  }
}

/** GnuPG dates a signature by the wall clock: wait until it reaches `date` (whole seconds). */
async function waitUntil(date: Date): Promise<void> {
  const wait = date.getTime() - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}

/** `%` starts an expando in GnuPG's notation and policy strings; `%%` is a literal `%`. */
function literal(text: string): string {
  return text.replaceAll("%", "%%");
}

class GpgSigner implements MasterSigner {
  readonly fingerprint: string;
  private rings = 0;

  constructor(
    private readonly options: GpgSignerOptions,
    private readonly master: Uint8Array,
    private readonly directory: string,
  ) {
    this.fingerprint = options.fingerprint;
  }

  async certify(target: SigningTarget, parameters: CertificationParameters): Promise<Uint8Array> {
    const ring = await this.keyring([this.master, target.keyBinary]);
    const userId = new TextDecoder().decode(target.userId);
    const args = [
      ...ring,
      ...this.signing(),
      "--cert-digest-algo",
      "SHA256",
      "--default-cert-level",
      "0",
      "--no-ask-cert-level",
      "--no-ask-cert-expire",
      "--default-cert-expire",
      `${parameters.validityDays}d`,
      ...parameters.notations.flatMap((notation) => ["--cert-notation", `${literal(notation.name)}=${literal(notation.value)}`]),
      ...(parameters.policyUrl ? ["--cert-policy-url", literal(parameters.policyUrl)] : []),
      "--quick-sign-key",
      target.fingerprint,
      userId,
    ];
    await this.run("certify the user ID", args);
    return this.newSignature(ring, target, CERTIFICATION_TYPES, "certification");
  }

  /**
   * `target.keyBinary` carries the certification to revoke after its user ID (see sign-batch).
   * GnuPG signs at its own clock, so `notBefore` is waited for, never backdated.
   */
  async revoke(target: SigningTarget, reason: string, notBefore: Date): Promise<Uint8Array> {
    await waitUntil(notBefore);
    const ring = await this.keyring([this.master, target.keyBinary]);
    const lines = reason.split(/\r?\n/).filter((line) => line.trim() !== "");
    const answers: GpgAnswers = {
      "keyedit.prompt": ["revsig", "save"],
      "ask_revoke_sig.one": "y",
      "ask_revoke_sig.okay": "y",
      // 0, as the software signer writes it (RFC 4880: 0 or 32 for a certification revocation); the text says why.
      "ask_revocation_reason.code": "0",
      "ask_revocation_reason.text": [...lines, ""],
      "ask_revocation_reason.okay": "y",
      "keyedit.save.okay": "y",
    };
    await this.run("revoke the certification", [...ring, ...this.signing(), "--edit-key", target.fingerprint], answers);
    return this.newSignature(ring, target, [CERTIFICATION_REVOCATION], "certification revocation");
  }

  signFile(payload: Uint8Array): Promise<string> {
    return this.signBytes(payload, "sign the result file");
  }

  async signBytes(payload: Uint8Array, what: string): Promise<string> {
    const ring = await this.keyring([this.master]);
    // A new name each time: the unlock test signature and the result's are two files.
    const input = path.join(this.directory, `payload-${this.rings}`);
    const output = `${input}.asc`;
    await writeFile(input, payload);
    await this.run(what, [...ring, ...this.signing(), "--digest-algo", "SHA256", "--armor", "--output", output, "--detach-sign", input]);
    return readFile(output, "utf8");
  }

  async close(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true });
  }

  private signing(): string[] {
    const passphrase = this.options.passphraseFile === null ? [] : ["--pinentry-mode", "loopback", "--passphrase-file", this.options.passphraseFile];
    return [...passphrase, "--local-user", `${this.fingerprint}!`];
  }

  /** A new keyring with `keys` imported; returns the options that select it. */
  private async keyring(keys: readonly Uint8Array[]): Promise<string[]> {
    this.rings += 1;
    const name = path.join(this.directory, `ring-${this.rings}`);
    const ring = [
      "--no-default-keyring",
      "--keyring",
      `${name}.kbx`,
      "--trustdb-name",
      path.join(this.directory, "trustdb.gpg"),
      "--trust-model",
      "always",
      "--no-auto-check-trustdb",
    ];
    const files = await Promise.all(
      keys.map(async (key, index) => {
        const file = `${name}-${index}.gpg`;
        await writeFile(file, key);
        return file;
      }),
    );
    await this.run("import keys into its temporary keyring", [...ring, "--import", ...files]);
    return ring;
  }

  private async run(what: string, args: string[], answers?: GpgAnswers): Promise<void> {
    const outcome = await runGpg(this.options.environment, args, answers);
    if (outcome.code !== 0 || outcome.unanswered !== null) throw failure(what, outcome);
  }

  private async newSignature(ring: string[], target: SigningTarget, types: readonly number[], what: string): Promise<Uint8Array> {
    const outcome = await runGpg(this.options.environment, [...ring, "--export", target.fingerprint]);
    if (outcome.code !== 0) throw failure(`export the signed key`, outcome);
    const found = findMasterSignature(new Uint8Array(outcome.stdout), target.userId, this.fingerprint, types);
    if (found === null) throw new MasterKeyError(`GnuPG made no ${what} by the master over ${JSON.stringify(new TextDecoder().decode(target.userId))}.`);
    return found;
  }
}

/** The newest signature of one of `types` by `master` on `userId` in an exported key, as one packet. */
export function findMasterSignature(exported: Uint8Array, userId: Uint8Array, master: string, types: readonly number[]): Uint8Array | null {
  let onUserId = false;
  let newest: { created: number; body: Uint8Array } | null = null;
  for (const packet of scanPackets(exported).packets) {
    if (packet.tag !== TAG.signature) {
      onUserId = packet.tag === TAG.userId && equalBytes(packet.body, userId);
      continue;
    }
    if (!onUserId) continue;
    const signature = parseSignature(packet.body);
    if (signature === null || !types.includes(signature.layout.signatureType) || issuerFingerprint(signature) !== master) continue;
    const created = signature.packet.created?.getTime() ?? 0;
    if (newest === null || created >= newest.created) newest = { created, body: packet.body };
  }
  return newest === null ? null : writePacket(TAG.signature, newest.body);
}
