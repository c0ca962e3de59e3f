/**
 * First stage of intake: from the raw upload to the packets of exactly one public key.
 *
 * Runs before any library parses key material, and never decompresses anything. Order
 * matters: size first (so nothing large is read), then the armor limits (before any block is
 * decoded), then one linear survey of every block's packet headers. From the survey, secret
 * key material is reported first (so a private key is always named as such, even next to a
 * public key or in a second armor block), then compressed data (refused unopened, since it
 * could hide anything), then the packet types, the number of keys and the packet limits. Only
 * an upload within every limit is framed into packets and handed on.
 */
import type { Config } from "openpgp";
import { dearmor, looksArmored, splitArmor, type ArmorSplit } from "./armor.ts";
import { checkArmorBounds, checkPacketBounds, combineSurveys, surveyArmor } from "./bounds.ts";
import { messages } from "./messages.ts";
import { scanPackets, surveyPackets, TAG, type Packet, type PacketSurvey } from "./packets.ts";
import { checkSubpacketBounds } from "./subpackets.ts";
import { LIMITS, type PolicyProblem } from "./types.ts";
import { displayUserId } from "./user-id.ts";

export type IntakeResult = { ok: true; packets: Packet[] } | { ok: false; problem: PolicyProblem };

interface Stream {
  /** Armor label such as "PUBLIC KEY BLOCK", or null for binary input. */
  label: string | null;
  /** The decoded bytes, or null for a foreign armor block the library could not decode. */
  data: Uint8Array | null;
  survey: PacketSurvey;
}

const SECRET_ARMOR_MARKERS = ["BEGIN PGP PRIVATE KEY BLOCK", "BEGIN PGP SECRET KEY BLOCK"];
const MESSAGE_TAGS: readonly number[] = [
  TAG.publicKeyEncryptedSessionKey,
  TAG.symEncryptedSessionKey,
  TAG.onePassSignature,
  TAG.symmetricallyEncryptedData,
  TAG.literalData,
  TAG.symEncryptedIntegrityProtectedData,
  TAG.aeadEncryptedData,
];
const KEY_TAGS: ReadonlySet<number> = new Set([TAG.publicKey, TAG.publicSubkey, TAG.userId, TAG.userAttribute, TAG.signature]);
/** Packets that carry no meaning in a transferable key; dropped silently (but counted). */
const IGNORED_TAGS: ReadonlySet<number> = new Set([TAG.marker, TAG.trust, TAG.padding]);
const NOTHING: PacketSurvey = surveyPackets(new Uint8Array());

export async function readUpload(upload: Uint8Array, config: Config): Promise<IntakeResult> {
  if (upload.length > LIMITS.maxUploadBytes) return fail(messages.tooLarge(upload.length));
  if (isBlank(upload)) return fail(messages.empty());
  // Searched on the raw bytes so a private key block is caught even when the rest is damaged.
  if (SECRET_ARMOR_MARKERS.some((marker) => Buffer.from(upload).includes(marker))) return fail(messages.secret());
  const streams = looksArmored(upload) ? await armoredStreams(upload, config) : binaryStreams(upload);
  if (!Array.isArray(streams)) return fail(streams);
  const problem = checkSurvey(streams, combineSurveys(streams.map((stream) => stream.survey)));
  return problem ? fail(problem) : frameKey(streams);
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
  return [{ label: null, data: bytes, survey: surveyPackets(bytes) }];
}

async function armoredStreams(bytes: Uint8Array, config: Config): Promise<Stream[] | PolicyProblem> {
  const bounds = checkArmorBounds(surveyArmor(bytes));
  if (bounds) return bounds;
  const split = splitArmor(Buffer.from(bytes).toString("utf8"));
  if (!split.ok) return armorProblem(split);
  const streams: Stream[] = [];
  for (const block of split.blocks) {
    const data = await dearmor(block.text, config);
    // A foreign block the library cannot decode is reported by its label (see checkSurvey).
    if (data === null && block.label === "PUBLIC KEY BLOCK") return messages.malformed(`the armored block "${block.label}" is damaged`);
    streams.push({ label: block.label, data, survey: data === null ? { ...NOTHING, complete: false } : surveyPackets(data) });
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

/** Every rule that the packet survey can answer, most telling first; nothing has been parsed yet. */
function checkSurvey(streams: readonly Stream[], survey: PacketSurvey): PolicyProblem | null {
  if (survey.secret) return messages.secret();
  if ((survey.counts[TAG.compressedData] ?? 0) > 0) return messages.compressed();
  const foreign = streams.find((stream) => stream.label !== null && stream.label !== "PUBLIC KEY BLOCK");
  if (foreign?.label) return messages.wrongType(describeArmor(foreign.label));
  if (!survey.complete) return messages.malformed("the data could not be read as OpenPGP packets");
  return checkPacketTypes(survey) ?? checkPacketBounds(survey);
}

function describeArmor(label: string): string {
  if (label === "MESSAGE" || label.startsWith("MESSAGE, PART")) return "an OpenPGP message (-----BEGIN PGP MESSAGE-----)";
  if (label === "SIGNATURE") return "a signature (-----BEGIN PGP SIGNATURE-----)";
  return `an armored block labelled "PGP ${label}"`;
}

function checkPacketTypes(survey: PacketSurvey): PolicyProblem | null {
  const count = (tag: number) => survey.counts[tag] ?? 0;
  const meaningful = survey.order.filter((tag) => !IGNORED_TAGS.has(tag));
  if (meaningful.length === 0) return messages.malformed("it contains no OpenPGP packets");
  if (MESSAGE_TAGS.some((tag) => count(tag) > 0)) return messages.wrongType("an OpenPGP message");
  if (meaningful.every((tag) => tag === TAG.signature)) return messages.wrongType("a signature");
  const unexpected = meaningful.find((tag) => !KEY_TAGS.has(tag));
  if (unexpected !== undefined) return messages.malformed(`it contains an unexpected packet (type ${unexpected})`);
  if (survey.partial) return messages.malformed("a key packet uses partial body lengths");
  if (count(TAG.publicKey) > 1) return messages.multiple(count(TAG.publicKey));
  return null;
}

/** Frames the packets (a few hundred at most by now) and checks what needs their bodies. */
function frameKey(streams: readonly Stream[]): IntakeResult {
  const packets = streams.flatMap((stream) => (stream.data ? scanPackets(stream.data).packets : [])).filter((packet) => !IGNORED_TAGS.has(packet.tag));
  if (packets[0]?.tag !== TAG.publicKey) return fail(messages.malformed("it does not start with a public key packet"));
  const problem = checkVersions(packets) ?? checkPacketSizes(packets);
  return problem ? fail(problem) : { ok: true, packets };
}

/**
 * Sizes that multiply work: every signature that claims a user ID or key hashes it again, and
 * every subpacket becomes an object in two parsers. The user ID limit applies to unbound user
 * IDs too, which would otherwise only be stripped.
 */
function checkPacketSizes(packets: readonly Packet[]): PolicyProblem | null {
  for (const packet of packets) {
    const { tag, body } = packet;
    // 324 bytes hold at least the 81 characters that make the quote show its ellipsis.
    if (tag === TAG.userId && body.length > LIMITS.maxUserIdBytes) return messages.userIdTooLong(displayUserId(body.subarray(0, 324)), body.length);
    if ((tag === TAG.publicKey || tag === TAG.publicSubkey) && body.length > LIMITS.maxKeyPacketBytes) return messages.keyPacketSize(body.length);
    const subpackets = tag === TAG.signature ? checkSubpacketBounds(body, LIMITS.maxSubpackets) : "ok";
    if (subpackets === "too-many") return messages.tooManySubpackets();
    if (subpackets === "bad-embedded") return messages.embeddedSignature();
  }
  return null;
}

function checkVersions(packets: readonly Packet[]): PolicyProblem | null {
  const keyPackets = packets.filter((packet) => packet.tag === TAG.publicKey || packet.tag === TAG.publicSubkey);
  const odd = keyPackets.find((packet) => packet.body[0] !== 4);
  return odd ? messages.version(odd.body[0] ?? 0) : null;
}
