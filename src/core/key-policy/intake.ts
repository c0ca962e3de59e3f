/**
 * First stage of intake: from the raw upload to the packets of exactly one public key.
 *
 * Runs before any library parses key material. Order matters: size first (so nothing large is
 * parsed), then secret key material (so a private key is always reported as such, even next
 * to a public key, in a second armor block or inside a compressed packet), then the shape of
 * the upload (armor types, packet types, number of keys, key versions).
 */
import { inflateRawSync, inflateSync } from "node:zlib";
import type { Config } from "openpgp";
import { dearmor, looksArmored, splitArmor, type ArmorSplit } from "./armor.ts";
import { messages } from "./messages.ts";
import { scanPackets, TAG, type Packet, type ScanResult } from "./packets.ts";
import { LIMITS, type PolicyProblem } from "./types.ts";

export type IntakeResult = { ok: true; packets: Packet[] } | { ok: false; problem: PolicyProblem };

interface Stream {
  /** Armor label such as "PUBLIC KEY BLOCK", or null for binary input. */
  label: string | null;
  scan: ScanResult;
}

const SECRET_ARMOR_MARKERS = ["BEGIN PGP PRIVATE KEY BLOCK", "BEGIN PGP SECRET KEY BLOCK"];
const MESSAGE_TAGS: ReadonlySet<number> = new Set([
  TAG.publicKeyEncryptedSessionKey,
  TAG.symEncryptedSessionKey,
  TAG.onePassSignature,
  TAG.symmetricallyEncryptedData,
  TAG.literalData,
  TAG.symEncryptedIntegrityProtectedData,
  TAG.aeadEncryptedData,
]);
const KEY_TAGS: ReadonlySet<number> = new Set([TAG.publicKey, TAG.publicSubkey, TAG.userId, TAG.userAttribute, TAG.signature]);
/** Packets that carry no meaning in a transferable key; dropped silently. */
const IGNORED_TAGS: ReadonlySet<number> = new Set([TAG.marker, TAG.trust, TAG.padding]);

export async function readUpload(upload: Uint8Array, config: Config): Promise<IntakeResult> {
  if (upload.length > LIMITS.maxUploadBytes) return fail(messages.tooLarge(upload.length));
  if (isBlank(upload)) return fail(messages.empty());
  // Searched on the raw bytes so a private key block is caught even when the rest is damaged.
  if (SECRET_ARMOR_MARKERS.some((marker) => Buffer.from(upload).includes(marker))) return fail(messages.secret());
  const streams = looksArmored(upload) ? await armoredStreams(upload, config) : binaryStreams(upload);
  if (!Array.isArray(streams)) return fail(streams);
  if (streams.some((stream) => containsSecret(stream.scan.packets, 0))) return fail(messages.secret());
  return checkShape(streams);
}

function fail(problem: PolicyProblem): IntakeResult {
  return { ok: false, problem };
}

function isBlank(bytes: Uint8Array): boolean {
  return bytes.every((byte) => byte === 0x20 || (byte >= 0x09 && byte <= 0x0d));
}

function binaryStreams(bytes: Uint8Array): Stream[] | PolicyProblem {
  if (((bytes[0] ?? 0) & 0x80) === 0) {
    return messages.malformed("it is neither an armored key block (-----BEGIN PGP PUBLIC KEY BLOCK-----) nor binary OpenPGP data");
  }
  return [{ label: null, scan: scanPackets(bytes) }];
}

async function armoredStreams(bytes: Uint8Array, config: Config): Promise<Stream[] | PolicyProblem> {
  const split = splitArmor(Buffer.from(bytes).toString("utf8"));
  if (!split.ok) return armorProblem(split);
  const streams: Stream[] = [];
  for (const block of split.blocks) {
    const data = await dearmor(block.text, config);
    // A foreign block the library cannot decode is reported by its label (see checkShape).
    if (data === null && block.label === "PUBLIC KEY BLOCK") return messages.malformed(`the armored block "${block.label}" is damaged`);
    streams.push({ label: block.label, scan: data === null ? { complete: false, packets: [] } : scanPackets(data) });
  }
  return streams;
}

function armorProblem(split: Exclude<ArmorSplit, { ok: true }>): PolicyProblem {
  switch (split.reason) {
    case "text-outside":
      return messages.malformed("there is text outside the armored block; upload the block alone");
    case "clear-signed":
      return messages.wrongType("a clear-signed message (-----BEGIN PGP SIGNED MESSAGE-----)");
    case "not-closed":
      return messages.malformed(`the armored block "${split.label}" is not closed properly`);
    case "no-end":
      return messages.malformed(`the armored block "${split.label}" has no END line; the paste may be cut off`);
  }
}

/** Looks for secret-key packets, also inside compressed packets (bounded in depth and size). */
function containsSecret(packets: readonly Packet[], depth: number): boolean {
  return packets.some((packet) => {
    if (packet.tag === TAG.secretKey || packet.tag === TAG.secretSubkey) return isPlausibleKeyVersion(packet.body);
    if (packet.tag !== TAG.compressedData || depth >= 2) return false;
    const inner = decompress(packet.body);
    return inner !== null && containsSecret(scanPackets(inner).packets, depth + 1);
  });
}

/** Random bytes can frame as a "secret key" header; a real key packet starts with a known version. */
function isPlausibleKeyVersion(body: Uint8Array): boolean {
  const version = body[0] ?? 0;
  return version >= 2 && version <= 6;
}

function decompress(body: Uint8Array): Uint8Array | null {
  const algorithm = body[0];
  const data = body.subarray(1);
  const limit = { maxOutputLength: LIMITS.maxUploadBytes };
  try {
    if (algorithm === 0) return data;
    if (algorithm === 1) return inflateRawSync(data, limit);
    if (algorithm === 2) return inflateSync(data, limit);
    return null;
  } catch {
    // Corrupt or larger than the upload limit: refused as compressed anyway.
    return null;
  }
}

function checkShape(streams: readonly Stream[]): IntakeResult {
  const foreign = streams.find((stream) => stream.label !== null && stream.label !== "PUBLIC KEY BLOCK");
  if (foreign?.label) return fail(messages.wrongType(describeArmor(foreign.label)));
  if (streams.some((stream) => !stream.scan.complete)) return fail(messages.malformed("the data could not be read as OpenPGP packets"));
  const packets = streams.flatMap((stream) => stream.scan.packets.filter((packet) => !IGNORED_TAGS.has(packet.tag)));
  const typeProblem = checkPacketTypes(packets);
  if (typeProblem) return fail(typeProblem);
  const keyCount = packets.filter((packet) => packet.tag === TAG.publicKey).length;
  if (keyCount > 1) return fail(messages.multiple(keyCount));
  if (packets[0]?.tag !== TAG.publicKey) return fail(messages.malformed("it does not start with a public key packet"));
  const versionProblem = checkVersions(packets);
  return versionProblem ? fail(versionProblem) : { ok: true, packets };
}

function describeArmor(label: string): string {
  if (label === "MESSAGE" || label.startsWith("MESSAGE, PART")) return "an OpenPGP message (-----BEGIN PGP MESSAGE-----)";
  if (label === "SIGNATURE") return "a signature (-----BEGIN PGP SIGNATURE-----)";
  return `an armored block labelled "PGP ${label}"`;
}

function checkPacketTypes(packets: readonly Packet[]): PolicyProblem | null {
  if (packets.length === 0) return messages.malformed("it contains no OpenPGP packets");
  if (packets.some((packet) => packet.tag === TAG.compressedData)) return messages.compressed();
  if (packets.some((packet) => MESSAGE_TAGS.has(packet.tag))) return messages.wrongType("an OpenPGP message");
  if (packets.every((packet) => packet.tag === TAG.signature)) return messages.wrongType("a signature");
  const unexpected = packets.find((packet) => !KEY_TAGS.has(packet.tag));
  if (unexpected) return messages.malformed(`it contains an unexpected packet (type ${unexpected.tag})`);
  if (packets.some((packet) => packet.partial)) return messages.malformed("a key packet uses partial body lengths");
  return null;
}

function checkVersions(packets: readonly Packet[]): PolicyProblem | null {
  const keyPackets = packets.filter((packet) => packet.tag === TAG.publicKey || packet.tag === TAG.publicSubkey);
  const odd = keyPackets.find((packet) => packet.body[0] !== 4);
  return odd ? messages.version(odd.body[0] ?? 0) : null;
}
