/**
 * The signer's home directory (`--home`, else $KEYSIGN_HOME, else ~/.keysign; mode 0700) and
 * the pins kept there in pins.json (mode 0600): the portal's queue public key and the master
 * key the officer signs with. Pins are public material only; no secret is ever stored here.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { readKey, type PublicKey } from "openpgp";
import { inspectionConfig } from "../core/openpgp-config.ts";
import { EXIT } from "./exit-codes.ts";
import { CommandError } from "./signer-errors.ts";

const Fingerprint = Type.String({ pattern: "^[0-9A-F]{40}$" });

export const Pins = Type.Object(
  {
    format: Type.Literal("keysign-pins"),
    version: Type.Literal(1),
    pinnedAt: Type.String(),
    queueKey: Type.Object({ fingerprint: Fingerprint, armored: Type.String() }, { additionalProperties: false }),
    master: Type.Object(
      {
        fingerprint: Fingerprint,
        /** The master's public key, to check result files without the secret key. */
        armored: Type.String(),
        backend: Type.Union([Type.Literal("software"), Type.Literal("gpg")]),
        /** software: absolute path of the armored (passphrase-protected) secret key file. */
        secretKeyFile: Type.Optional(Type.String()),
        /** gpg: the GnuPG home given at init, if any (else $GNUPGHOME or GnuPG's default). */
        gpgHome: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type Pins = Static<typeof Pins>;

export function signerHome(option: string | undefined, env: Record<string, string | undefined>): string {
  return path.resolve(option ?? env.KEYSIGN_HOME ?? path.join(env.HOME ?? homedir(), ".keysign"));
}

export function pinsFile(home: string): string {
  return path.join(home, "pins.json");
}

/** The pins, or null when the signer was never initialised in this home. */
export async function readPins(home: string): Promise<Pins | null> {
  let text: string;
  try {
    text = await readFile(pinsFile(home), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!Value.Check(Pins, value)) {
    throw new CommandError(EXIT.notInitialised, `${pinsFile(home)} is damaged; run "keysign init --force" again.`);
  }
  return value;
}

/** The pins, or a "not initialised" failure naming the home directory. */
export async function requirePins(home: string): Promise<Pins> {
  const pins = await readPins(home);
  if (pins === null) throw new CommandError(EXIT.notInitialised, `no pins in ${home}; run "keysign init" first.`);
  return pins;
}

export async function writePins(home: string, pins: Pins): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chmod(home, 0o700);
  await writeFileAtomically(pinsFile(home), new TextEncoder().encode(`${JSON.stringify(pins, null, 2)}\n`), 0o600);
}

/** Writes beside the target, flushes, then renames over it, so a reader never sees half a file. */
export async function writeFileAtomically(file: string, bytes: Uint8Array, mode: number): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temporary, "wx", mode);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function readPinnedKey(armored: string): Promise<PublicKey> {
  return readKey({ armoredKey: armored, config: inspectionConfig({ minRsaBits: 2048 }) });
}
