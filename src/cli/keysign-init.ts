/**
 * `keysign init`: pins the portal's queue public key and the master key in the signer's home.
 * Everything later (inspect, sign) trusts these pins and nothing else, so init refuses what
 * could not work: a secret queue key, a master that cannot certify or sign, a GnuPG master
 * whose secret key is not there, and silently replacing earlier pins.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { readKey, type PublicKey } from "openpgp";
import { formatFingerprint } from "../core/key-policy.ts";
import { readUpload } from "../core/key-policy/intake.ts";
import { CODES } from "../core/key-policy/messages.ts";
import { concatBytes, writePacket } from "../core/key-policy/packets.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { checkMasterCapabilities, MasterKeyError } from "../core/transfer/software-signer.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { checkSecretKey, exportMasterKey } from "./gpg-signer.ts";
import { CommandError, parseOptions, runCommand, usageError } from "./signer-errors.ts";
import { pinsFile, readPins, signerHome, writePins, type Pins } from "./signer-home.ts";

export const INIT_USAGE = "keysign init --queue-key FILE (--master-key FILE | --gpg --master FINGERPRINT [--gpg-home DIR]) [--home DIR] [--force]";

const OPTIONS = {
  "queue-key": { type: "string" },
  "master-key": { type: "string" },
  gpg: { type: "boolean" },
  master: { type: "string" },
  "gpg-home": { type: "string" },
  home: { type: "string" },
  force: { type: "boolean" },
} as const;

export function keysignInit(args: string[], io: CommandIo): Promise<number> {
  return runCommand("init", INIT_USAGE, io, async () => {
    const { values } = parseOptions(args, OPTIONS, false);
    if (!values["queue-key"]) throw usageError("--queue-key is required");
    if (Boolean(values["master-key"]) === Boolean(values.gpg)) throw usageError("give either --master-key FILE or --gpg --master FINGERPRINT");
    if (values.gpg && !values.master) throw usageError("--gpg needs --master FINGERPRINT");
    if (!values.gpg && (values.master || values["gpg-home"])) throw usageError("--master and --gpg-home go with --gpg");
    const home = signerHome(values.home, io.env);
    await refuseOverwrite(home, values.force === true);
    const now = new Date();
    const queue = await readQueueKey(values["queue-key"], now);
    const master = values.gpg ? await gpgMaster(values.master ?? "", values["gpg-home"], io, now) : await softwareMaster(values["master-key"] ?? "", now);
    if (master.fingerprint === queue.getFingerprint().toUpperCase()) throw new CommandError(EXIT.fileRefused, "the queue key and the master key are the same key");
    const pins: Pins = {
      format: "keysign-pins",
      version: 1,
      pinnedAt: now.toISOString(),
      queueKey: { fingerprint: queue.getFingerprint().toUpperCase(), armored: queue.armor() },
      master,
    };
    await writePins(home, pins);
    io.stdout.write(
      `Pinned in ${home}:\n` +
        `  queue key  ${formatFingerprint(pins.queueKey.fingerprint)}\n` +
        `  master     ${formatFingerprint(master.fingerprint)}  (${master.backend === "gpg" ? "GnuPG" : `key file ${master.secretKeyFile}`})\n` +
        "Compare both fingerprints with the portal's admin settings before signing anything.\n",
    );
    return EXIT.ok;
  });
}

async function refuseOverwrite(home: string, force: boolean): Promise<void> {
  if (force) return;
  const existing = await readPins(home).catch(() => "damaged" as const);
  if (existing === null) return;
  const what = existing === "damaged" ? "damaged pins" : `pins (queue key ${formatFingerprint(existing.queueKey.fingerprint)}, master ${formatFingerprint(existing.master.fingerprint)})`;
  throw new CommandError(EXIT.refused, `${pinsFile(home)} already holds ${what}; use --force to replace them`);
}

async function readBytes(file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch {
    throw usageError(`cannot read the ${what} file ${file}`);
  }
}

/** Exactly one v4 public key whose primary key signs; any secret key material is refused. */
async function readQueueKey(file: string, now: Date): Promise<PublicKey> {
  const config = inspectionConfig({ minRsaBits: 2048 });
  const intake = await readUpload(await readBytes(file, "queue key"), config);
  if (!intake.ok) {
    const why =
      intake.problem.code === CODES.secret
        ? "it holds secret key material. Pin the queue PUBLIC key as downloaded from the portal's admin settings; the queue's secret key never leaves the portal"
        : intake.problem.message;
    throw new CommandError(EXIT.fileRefused, `the queue key was refused: ${why}`);
  }
  const key = await readKey({ binaryKey: concatBytes(intake.packets.map((packet) => writePacket(packet.tag, packet.body))), config }).catch(() => null);
  const signs = key ? await key.getSigningKey(key.getKeyID(), now, undefined, config).then(() => true, () => false) : false;
  if (key === null || !signs) throw new CommandError(EXIT.fileRefused, "the queue key was refused: its primary key cannot sign now (expired, revoked or damaged)");
  return key;
}

async function softwareMaster(file: string, now: Date): Promise<Pins["master"]> {
  const text = Buffer.from(await readBytes(file, "master key")).toString("utf8");
  const key = await readKey({ armoredKey: text, config: inspectionConfig({ minRsaBits: 2048 }) }).catch(() => null);
  if (key === null) throw new MasterKeyError("the master key file is not an armored OpenPGP key");
  if (!key.isPrivate()) throw new MasterKeyError("the master key file holds only a public key; give the armored secret key file (export it with --export-secret-keys)");
  await checkMasterCapabilities(key, now);
  const publicKey = key.toPublic();
  return { fingerprint: publicKey.getFingerprint().toUpperCase(), armored: publicKey.armor(), backend: "software", secretKeyFile: path.resolve(file) };
}

async function gpgMaster(given: string, gpgHome: string | undefined, io: CommandIo, now: Date): Promise<Pins["master"]> {
  const fingerprint = given.replace(/\s+/g, "").toUpperCase();
  if (!/^[0-9A-F]{40}$/.test(fingerprint)) throw usageError("--master must be the master key's full fingerprint (40 hex digits)");
  const environment = { homedir: gpgHome ? path.resolve(gpgHome) : null, env: io.env, interactive: false };
  const { key } = await exportMasterKey(environment, fingerprint);
  await checkMasterCapabilities(key, now);
  await checkSecretKey(environment, fingerprint);
  return { fingerprint, armored: key.armor(), backend: "gpg", ...(environment.homedir ? { gpgHome: environment.homedir } : {}) };
}
