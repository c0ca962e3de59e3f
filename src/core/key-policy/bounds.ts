/**
 * Limits checked on the raw upload before any library parses it (SECURITY.md, "Rules learned
 * from attacks": bound before parsing). The surveys are single linear passes that allocate
 * nothing per line or per packet, so an upload's cost depends on its size, not its shape, and
 * the parsers that run afterwards only ever see a few blocks and a few hundred packets.
 */
import { messages } from "./messages.ts";
import { TAG, type PacketSurvey } from "./packets.ts";
import { LIMITS, type PolicyProblem } from "./types.ts";

export interface ArmorSurvey {
  /** Lines starting "-----BEGIN ", wherever they are. */
  blocks: number;
  /** Every line, blank ones included. */
  lines: number;
  /** The first line inside a block longer than the limit (1-based), if any. */
  longLine: { number: number; length: number } | null;
}

const LF = 0x0a;
const CR = 0x0d;
const BEGIN = Buffer.from("-----BEGIN ");
const END = Buffer.from("-----END ");

export function surveyArmor(bytes: Uint8Array): ArmorSurvey {
  const survey: ArmorSurvey = { blocks: 0, lines: 0, longLine: null };
  let inBlock = false;
  let lineStart = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (let index = lineStart; index <= bytes.length; index++) {
    if (index < bytes.length && bytes[index] !== LF) continue;
    survey.lines += 1;
    // An empty line changes nothing but the count; most lines of a blank-line flood stop here.
    if (index > lineStart) inBlock = surveyLine(survey, bytes, lineStart, index, inBlock);
    lineStart = index + 1;
  }
  return survey;
}

/** Notes one non-empty line (`start` to `end`, without its LF); returns whether a block is open after it. */
function surveyLine(survey: ArmorSurvey, bytes: Uint8Array, start: number, end: number, inBlock: boolean): boolean {
  const begins = startsWith(bytes, start, end, BEGIN);
  if (begins) survey.blocks += 1;
  const length = end - start - (bytes[end - 1] === CR ? 1 : 0);
  if ((begins || inBlock) && length > LIMITS.maxArmorLineLength && survey.longLine === null) survey.longLine = { number: survey.lines, length };
  return (inBlock || begins) && !startsWith(bytes, start, end, END);
}

/** Leading blanks are skipped, as the armor reader ignores them around END lines. */
function startsWith(bytes: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean {
  let offset = start;
  while (offset < end && (bytes[offset] === 0x20 || bytes[offset] === 0x09)) offset += 1;
  if (bytes[offset] !== prefix[0] || offset + prefix.length > end) return false;
  for (let index = 1; index < prefix.length; index++) if (bytes[offset + index] !== prefix[index]) return false;
  return true;
}

/** Checked before any block is decoded. */
export function checkArmorBounds(survey: ArmorSurvey): PolicyProblem | null {
  if (survey.blocks > LIMITS.maxArmorBlocks) return messages.tooManyArmorBlocks(survey.blocks);
  if (survey.lines > LIMITS.maxArmorLines) return messages.tooManyArmorLines(survey.lines);
  if (survey.longLine) return messages.armorLineTooLong(survey.longLine.number, survey.longLine.length);
  return null;
}

/**
 * Checked on the counts of every block together, after the secret, compressed and packet-type
 * rules (which name a wrong upload better) and before any packet is parsed. The most specific
 * limit is reported first, as its message says what to leave out.
 */
export function checkPacketBounds(survey: PacketSurvey): PolicyProblem | null {
  const { counts } = survey;
  const count = (tag: number) => counts[tag] ?? 0;
  if (count(TAG.userId) > LIMITS.maxUserIds) return messages.tooManyUserIds(count(TAG.userId));
  if (count(TAG.userAttribute) > LIMITS.maxUserAttributes) return messages.tooManyUserAttributes(count(TAG.userAttribute));
  if (count(TAG.publicSubkey) > LIMITS.maxSubkeys) return messages.tooManySubkeys(count(TAG.publicSubkey));
  if (count(TAG.signature) > LIMITS.maxSignaturePackets) return messages.tooManySignatures(count(TAG.signature));
  if (survey.total > LIMITS.maxPackets) return messages.tooManyPackets(survey.total);
  return null;
}

/** One survey for several blocks, as if their packets had been uploaded back to back. */
export function combineSurveys(surveys: readonly PacketSurvey[]): PacketSurvey {
  const combined: PacketSurvey = { counts: new Array<number>(64).fill(0), total: 0, order: [], complete: true, secret: false, partial: false };
  for (const survey of surveys) {
    survey.counts.forEach((count, tag) => (combined.counts[tag] = (combined.counts[tag] ?? 0) + count));
    for (const tag of survey.order) if (!combined.order.includes(tag)) combined.order.push(tag);
    combined.total += survey.total;
    combined.complete &&= survey.complete;
    combined.secret ||= survey.secret;
    combined.partial ||= survey.partial;
  }
  return combined;
}
