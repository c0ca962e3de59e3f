/**
 * `keysign freepbx sync`: brings a FreePBX install's GnuPG keyring up to date with the portal,
 * certifications and revocations included, using only the portal's (or a static mirror's) GET
 * URLs. The signed status feed says which keys exist; each is fetched and imported with
 * `gpg --import`, which keeps the master's certifications and revocations (a keyserver fetch on
 * GnuPG 2.2.17 and later drops them). Runs on the FreePBX box with Node alone: nothing here
 * touches the database or the web server.
 */
import { homedir } from "node:os";
import path from "node:path";
import { readFile } from "node:fs/promises";
import { PublicKeyPacket, readKey, readKeys, type PublicKey } from "openpgp";
import { CODES } from "../core/key-policy/messages.ts";
import { readUpload } from "../core/key-policy/intake.ts";
import { concatBytes, writePacket } from "../core/key-policy/packets.ts";
import { inspectionConfig } from "../core/openpgp-config.ts";
import type { Feed } from "../core/publication/feed.ts";
import { MAX_FEED_BYTES, MAX_FEED_SIGNATURE_BYTES, verifyFeed } from "../core/publication/feed-verify.ts";
import { checkFetchedKey, MAX_FETCHED_KEY_BYTES } from "../core/publication/fetched-key.ts";
import { FeedRefusedError, KeysignError } from "../errors.ts";
import { fetchBounded } from "./bounded-fetch.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { readState, STATE_FILE_NAME, writeState } from "./freepbx-sync-state.ts";
import { runGpg, type GpgEnvironment } from "./gpg-process.ts";
import { CommandError, parseOptions, runCommand, usageError } from "./signer-errors.ts";

export const FREEPBX_SYNC_USAGE = "keysign freepbx sync --from URL --publication-key FILE [--gpg-home DIR] [--state FILE]";

const OPTIONS = {
  from: { type: "string" },
  "publication-key": { type: "string" },
  "gpg-home": { type: "string" },
  state: { type: "string" },
} as const;

/** A publication key file is one small public key. */
const MAX_PUBLICATION_KEY_BYTES = 64 * 1024;

interface ImportTally {
  changed: number;
  unchanged: number;
}

export function freepbxSync(args: string[], io: CommandIo): Promise<number> {
  return runCommand("freepbx sync", FREEPBX_SYNC_USAGE, io, async () => {
    const { values } = parseOptions(args, OPTIONS, false);
    if (!values.from) throw usageError("--from is required: the portal's address, e.g. https://keysign.example.org/");
    if (!values["publication-key"]) throw usageError("--publication-key is required: the portal's publication-key.asc, saved once and checked");
    const source = sourceUrl(values.from);
    const publicationKey = await readPublicationKey(values["publication-key"]);
    const gpgHome = values["gpg-home"] ? path.resolve(values["gpg-home"]) : null;
    const stateFile = path.resolve(values.state ?? path.join(gpgHome ?? defaultGpgHome(io.env), STATE_FILE_NAME));
    const state = await readState(stateFile);
    const last = state.sources[source.href]?.sequence ?? null;

    const feed = await fetchFeed(source, publicationKey, last);
    const tally = await importKeys(feed, source, { homedir: gpgHome, env: io.env, interactive: false });

    // Only after every key is in: a run that failed halfway is simply repeated.
    state.sources[source.href] = { sequence: feed.sequence, acceptedAt: new Date().toISOString() };
    await writeState(stateFile, state);
    const total = tally.changed + tally.unchanged;
    io.stdout.write(`keysign freepbx sync: feed ${feed.sequence} from ${source.href}: ${total} ${total === 1 ? "key" : "keys"}, ${tally.changed} imported or updated, ${tally.unchanged} unchanged\n`);
    return EXIT.ok;
  });
}

/** http(s) only, no credentials (they would land in the state file and messages), ending in "/" so paths join below it. */
export function sourceUrl(given: string, option = "--from"): URL {
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw usageError(`${option} ${given} is not a URL; give the portal's address, e.g. https://keysign.example.org/`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw usageError(`${option} must be an http:// or https:// address`);
  if (url.username || url.password) throw usageError(`${option} must not hold a user name or password`);
  if (url.search || url.hash) throw usageError(`${option} must be the portal's address without ? or #`);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** GnuPG's own rule on Unix: $GNUPGHOME, else ~/.gnupg (FreePBX runs gpg as the web user, with its home). */
function defaultGpgHome(env: Record<string, string | undefined>): string {
  return env.GNUPGHOME || path.join(env.HOME ?? homedir(), ".gnupg");
}

export async function readPublicationKey(file: string): Promise<PublicKey> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch {
    throw usageError(`cannot read the publication key file ${file}`);
  }
  const bad = (why: string) => new CommandError(EXIT.fileRefused, `the publication key file ${file} was refused: ${why}`);
  if (bytes.length > MAX_PUBLICATION_KEY_BYTES) throw bad(`it is larger than ${MAX_PUBLICATION_KEY_BYTES} bytes`);
  const config = inspectionConfig({ minRsaBits: 2048 });
  const intake = await readUpload(bytes, config);
  if (!intake.ok) throw bad(intake.problem.code === CODES.secret ? "it holds secret key material; save the portal's publication-key.asc, the public key" : intake.problem.message);
  const key = await readKey({ binaryKey: concatBytes(intake.packets.map((packet) => writePacket(packet.tag, packet.body))), config }).catch(() => null);
  if (key === null) throw bad("it is not a readable OpenPGP public key");
  return key;
}

/**
 * The feed and its signature, verified. A live portal can make a new feed between the two
 * requests, pairing the body with the next feed's signature; that looks like a bad signature,
 * so a bad signature is fetched once more before the feed is refused.
 */
async function fetchFeed(source: URL, publicationKey: PublicKey, lastSequence: number | null): Promise<Feed> {
  for (let attempt = 1; ; attempt += 1) {
    const body = await fetchBounded(new URL("status/v1/feed.json", source), MAX_FEED_BYTES);
    const signature = await fetchBounded(new URL("status/v1/feed.json.sig", source), MAX_FEED_SIGNATURE_BYTES);
    try {
      return await verifyFeed({ body, signature: Buffer.from(signature).toString("utf8"), publicationKey, lastSequence, now: new Date() });
    } catch (error) {
      if (!(error instanceof FeedRefusedError)) throw error;
      if (error.refusal === "signature" && attempt < 2) continue;
      throw new CommandError(EXIT.fileRefused, `feed refused, nothing imported (${error.code}): ${error.message}`);
    }
  }
}

/**
 * Every key the feed names, once each, with how many of its user IDs the feed lists revoked
 * certifications of, and its published form's SHA-256. User IDs, not certifications: after a
 * master rotation a user ID carries one certification, and one revocation, per master, and an
 * install that trusts only one of them can check only that master's revocation.
 */
function keysOf(feed: Feed): Map<string, { revokedCertifications: number; sha256: string | null }> {
  const keys = new Map<string, { revokedCertifications: number; sha256: string | null }>();
  const revokedUserIds = new Set<string>();
  for (const entry of feed.entries) {
    const known = keys.get(entry.fingerprint);
    const counted = revokedUserIds.has(`${entry.fingerprint}:${entry.userIdSha256}`);
    if (entry.state === "revoked") revokedUserIds.add(`${entry.fingerprint}:${entry.userIdSha256}`);
    keys.set(entry.fingerprint, {
      revokedCertifications: (known?.revokedCertifications ?? 0) + (entry.state === "revoked" && !counted ? 1 : 0),
      sha256: known?.sha256 ?? entry.keySha256,
    });
  }
  return keys;
}

/** Fetches and checks every key before importing any, so a bad source leaves the keyring as it was. */
async function importKeys(feed: Feed, source: URL, environment: GpgEnvironment): Promise<ImportTally> {
  const checked: Array<[string, Uint8Array]> = [];
  const keys = keysOf(feed);
  const certifiers = [...keys.values()].some((key) => key.revokedCertifications > 0) ? await trustRoots(environment) : [];
  for (const [fingerprint, expected] of keys) {
    const bytes = await fetchBounded(new URL(`vks/v1/by-fingerprint/${fingerprint}`, source), MAX_FETCHED_KEY_BYTES);
    const key = await checkFetchedKey({ bytes, fingerprint, ...expected, certifiers }).catch((error: unknown) => {
      if (error instanceof KeysignError) throw new CommandError(EXIT.fileRefused, `${error.message} Nothing was imported.`);
      throw error;
    });
    checked.push([fingerprint, key]);
  }
  const tally: ImportTally = { changed: 0, unchanged: 0 };
  for (const [fingerprint, key] of checked) {
    if (await importKey(environment, fingerprint, key)) tally.changed += 1;
    else tally.unchanged += 1;
  }
  return tally;
}

/**
 * The primary keys this GnuPG home trusts ultimately (FreePBX: the master key). Only their
 * revocations count: a revocation by any other key, or one that does not verify, changes
 * nothing FreePBX sees.
 */
async function trustRoots(environment: GpgEnvironment): Promise<PublicKeyPacket[]> {
  const ownertrust = await runGpg(environment, ["--export-ownertrust"]).catch(() => {
    throw new CommandError(EXIT.failure, "cannot run gpg: install GnuPG, or put gpg on this user's PATH");
  });
  const ultimate = ownertrust.stdout
    .toString("utf8")
    .split("\n")
    .flatMap((line) => /^([0-9A-F]{40}):6:$/.exec(line.trim())?.slice(1) ?? []);
  if (ultimate.length === 0) return [];
  const exported = await runGpg(environment, ["--export", ...ultimate.map((fingerprint) => `0x${fingerprint}`)]);
  if (exported.code !== 0 || exported.stdout.length === 0) return [];
  const config = inspectionConfig({ minRsaBits: 2048 });
  const keys = await readKeys({ binaryKeys: new Uint8Array(exported.stdout), config }).catch(() => []);
  return keys.flatMap((key) => (key.keyPacket instanceof PublicKeyPacket ? [key.keyPacket] : []));
}

/** True when GnuPG took something new (key, user ID, signature, subkey); false when it had it all. */
async function importKey(environment: GpgEnvironment, fingerprint: string, key: Uint8Array): Promise<boolean> {
  const outcome = await runGpg(environment, ["--import"], undefined, key).catch(() => {
    throw new CommandError(EXIT.failure, "cannot run gpg: install GnuPG, or put gpg on this user's PATH");
  });
  const result = outcome.status.find((line) => line.startsWith("IMPORT_OK ") && line.endsWith(` ${fingerprint}`));
  if (outcome.code !== 0 || result === undefined) {
    const why = outcome.stderr.trim().split("\n").at(-1) ?? `exit ${outcome.code}`;
    throw new CommandError(EXIT.failure, `gpg --import of key ${fingerprint} failed: ${why}`);
  }
  return result.split(" ")[1] !== "0";
}
