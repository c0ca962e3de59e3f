/**
 * The worst key uploads we could build for each intake rule, each as close to the 1 MiB upload
 * limit as its shape allows, timed through `inspectKey` (the whole intake policy). Prints the
 * outcome (refusal code) and the median and slowest of several runs, and each median as a
 * multiple of a typical Ed25519 upload timed in the same run. The target is 100 ms for every
 * input; nothing is asserted here.
 *
 *   npm run bench -- intake-worst [FILTER] [BYTES]
 *
 * FILTER keeps the inputs whose name contains it; BYTES sets the size the floods aim for
 * (default: just under 1 MiB), to compare with code that is too slow at full size.
 */
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { deflateRawSync } from "node:zlib";
import { armor, enums } from "openpgp";
import { DEFAULT_KEY_POLICY, inspectKey, LIMITS } from "../src/core/key-policy.ts";
import { concatBytes, scanPackets, TAG, writePacket } from "../src/core/key-policy/packets.ts";
import {
  bytes,
  ed25519Forger,
  forgedKey,
  type Forger,
  KEY_CREATED,
  keyBody,
  mpi,
  p521Forger,
  rsaForger,
  signature,
  subpacket,
  uint16,
  uint32,
  userIdCovered,
  utf8,
} from "../test/fixtures/forge.ts";

const FIXTURES = path.resolve(import.meta.dirname, "../test/fixtures/keys");
const POLICY = { ...DEFAULT_KEY_POLICY, now: new Date("2026-01-01T00:00:00Z") };
const RUNS = 7;
/** A case slower than this once is timed once more only, so old code can still be measured. */
const SLOW_MS = 2000;

interface Case {
  name: string;
  build: (target: number) => Uint8Array | Promise<Uint8Array>;
}

const fixture = async (name: string) => new Uint8Array(await readFile(path.join(FIXTURES, name)));
const armored = (binary: Uint8Array, checksum = true) => utf8(armor(enums.armor.publicKey, binary, undefined, undefined, undefined, checksum));

/** `head` followed by as many `unit(i)` as fit in `target` bytes. */
function fill(head: readonly Uint8Array[], unit: (index: number) => Uint8Array, target: number): Uint8Array {
  const parts = [...head];
  let size = head.reduce((sum, part) => sum + part.length, 0);
  for (let index = 0; ; index++) {
    const next = unit(index);
    if (size + next.length > target) return concatBytes(parts);
    parts.push(next);
    size += next.length;
  }
}

const compressed = (inner: Uint8Array) => writePacket(TAG.compressedData, concatBytes([bytes([1]), deflateRawSync(inner, { level: 9 })]));

/** A signature whose hashed area holds an embedded signature, which holds one, and so on. */
function nestedSignature(budget: number): Uint8Array {
  let inner = concatBytes([bytes([4, 0x19, 22, 8]), uint16(0), uint16(0), bytes([0, 0]), mpi(bytes([1])), mpi(bytes([1]))]);
  while (inner.length + 16 < budget) {
    const hashed = subpacket(32, inner);
    inner = concatBytes([bytes([4, 0x18, 22, 8]), uint16(hashed.length), hashed, uint16(0), bytes([0, 0]), mpi(bytes([1])), mpi(bytes([1]))]);
  }
  return writePacket(TAG.signature, inner);
}

/** A signature by nobody with both subpacket areas full of the smallest subpackets. */
function subpacketFloodSignature(): Uint8Array {
  const area = fill([], () => bytes([1, 100]), 0xffff);
  return writePacket(TAG.signature, concatBytes([bytes([4, 0x13, 22, 8]), uint16(area.length), area, uint16(area.length), area, bytes([0, 0]), mpi(bytes([1])), mpi(bytes([1]))]));
}

/** A packet body sent in one-byte partial chunks, the most headers per byte the format allows. */
function partialPacket(tag: number, target: number): Uint8Array {
  const chunks = Math.floor((target - 8) / 2);
  const out = new Uint8Array(1 + chunks * 2 + 2);
  out[0] = 0xc0 | tag;
  for (let index = 0; index < chunks; index++) out.set([0xe0, 0x41], 1 + index * 2);
  out.set([1, 0x41], 1 + chunks * 2);
  return out;
}

// ---------------------------------------------------------------------------------------------

async function goodKey(): Promise<{ binary: Uint8Array; armoredText: string; head: Uint8Array[] }> {
  const binary = await fixture("ed25519-good.gpg");
  const armoredText = Buffer.from(await fixture("ed25519-good.asc")).toString("utf8");
  const head = scanPackets(binary).packets.slice(0, 3).map((packet) => writePacket(packet.tag, packet.body));
  return { binary, armoredText, head };
}

function armorCases(good: Awaited<ReturnType<typeof goodKey>>): Case[] {
  const emptyBlock = utf8("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n-----END PGP PUBLIC KEY BLOCK-----\n");
  const withoutChecksum = good.armoredText.replace(/\n=[A-Za-z0-9+/]{4}\n/, "\n");
  const padded = (target: number) => concatBytes([good.binary, writePacket(TAG.padding, randomBytes(Math.floor(target * 0.72)))]);
  const lines = (text: string, width: number) => {
    const [begin, , ...rest] = text.trimEnd().split("\n");
    const body = rest.slice(0, -2).join("");
    const wrapped = body.match(new RegExp(`.{1,${width}}`, "g")) ?? [];
    return utf8([begin, "", ...wrapped, rest.at(-2), rest.at(-1), ""].join("\n"));
  };
  return [
    { name: "armor: empty PUBLIC KEY BLOCKs", build: (target) => fill([], () => emptyBlock, target) },
    { name: "armor: copies of the good key's block", build: (target) => fill([], () => utf8(good.armoredText), target) },
    { name: "armor: copies without checksum line", build: (target) => fill([], () => utf8(withoutChecksum), target) },
    { name: "armor: one block, one line of base64", build: (target) => lines(Buffer.from(armored(padded(target))).toString("utf8"), 1 << 30) },
    { name: "armor: one block, 4-character lines", build: (target) => lines(Buffer.from(armored(padded(target * 0.8))).toString("utf8"), 4) },
    { name: "armor: the good key then blank lines", build: (target) => fill([utf8(good.armoredText)], () => bytes([0x0a]), target) },
    { name: "armor: the good key, then 19,000 blank lines", build: () => utf8(good.armoredText + "\n".repeat(19_000)) },
    { name: "armor: the good key, then a line of spaces", build: (target) => fill([utf8(good.armoredText)], () => bytes([0x20]), target) },
    { name: "armor: 'Comment:' header lines", build: (target) => headerLines(good.armoredText, target) },
  ];
}

/** The good key's block with as many armor header lines as fit. */
function headerLines(armoredText: string, target: number): Uint8Array {
  const line = "Comment: x\n";
  const [begin = "", rest = ""] = armoredText.split(/(?<=-----BEGIN PGP PUBLIC KEY BLOCK-----\n)/);
  return utf8(begin + line.repeat(Math.floor((target - armoredText.length) / line.length)) + rest);
}

function floodCases(good: Awaited<ReturnType<typeof goodKey>>): Case[] {
  const flood = (unit: (index: number) => Uint8Array) => (target: number) => fill(good.head, unit, target);
  return [
    { name: "flood: user IDs", build: flood(() => writePacket(TAG.userId, utf8("a"))) },
    { name: "flood: distinct user attributes", build: flood((index) => writePacket(TAG.userAttribute, concatBytes([bytes([5, 1]), uint32(index)]))) },
    { name: "flood: signature packets", build: flood(() => writePacket(TAG.signature, bytes([4]))) },
    { name: "flood: subkey packets", build: flood((index) => writePacket(TAG.publicSubkey, concatBytes([bytes([4]), uint32(index), bytes([22])]))) },
    { name: "flood: private tag 60", build: flood(() => writePacket(60, new Uint8Array())) },
    { name: "flood: unknown tag 15", build: flood(() => writePacket(15, new Uint8Array())) },
    { name: "flood: marker packets", build: flood(() => writePacket(TAG.marker, utf8("PGP"))) },
    { name: "flood: trust packets", build: flood(() => writePacket(TAG.trust, bytes([0, 0]))) },
    { name: "flood: padding packets", build: flood(() => writePacket(TAG.padding, new Uint8Array())) },
    { name: "flood: signature packets, armored", build: (target) => armored(fill(good.head, () => writePacket(TAG.signature, bytes([4])), target * 0.72)) },
  ];
}

function compressionCases(good: Awaited<ReturnType<typeof goodKey>>, secret: Uint8Array): Case[] {
  const markers = fill([], () => writePacket(TAG.marker, utf8("PGP")), LIMITS.maxUploadBytes);
  const level2 = compressed(markers);
  const level1 = compressed(fill([], () => level2, LIMITS.maxUploadBytes));
  const wrap = (inner: Uint8Array, depth: number): Uint8Array => (depth === 0 ? inner : wrap(compressed(inner), depth - 1));
  return [
    { name: "compressed: the good key, depth 1", build: () => wrap(good.binary, 1) },
    { name: "compressed: the good key, depth 3", build: () => wrap(good.binary, 3) },
    { name: "compressed: a secret key, depth 1", build: () => wrap(secret, 1) },
    { name: "compressed: random padding, depth 8", build: (target) => wrap(concatBytes([good.binary, writePacket(TAG.padding, randomBytes(target - 4096))]), 8) },
    { name: "compressed: body is not deflate", build: (target) => writePacket(TAG.compressedData, concatBytes([bytes([1]), randomBytes(target - 8)])) },
    { name: "compressed: packets inflating to 1 MiB each", build: (target) => fill([], () => level2, target) },
    { name: "compressed: nested bomb, depth 2", build: (target) => fill([], () => level1, target) },
  ];
}

/** One valid self-signature behind 199 newer ones that fail, the most signature packets allowed. */
const bogusSelfSignatures = (primary: Forger) => forgedKey({ primary, bogusSelfSignatures: LIMITS.maxSignaturePackets - 1 });

/** Eight signing subkeys, each with as many failing back-signatures as its binding's unhashed area holds. */
const backSignatureFlood = (forger: () => Forger) =>
  forgedKey({ primary: ed25519Forger(), subkeys: { forger, count: LIMITS.maxSubkeys, bogusBackSignatures: (length) => Math.floor(0xffff / length) - 2 } });

/** The most public-key operations an accepted key can cost: every component at its limit, P-521 throughout, and the failures allowed. */
/** P-521 at every count limit: refused by the check budget after about 150 units of checks. */
const p521AtEveryLimit = () =>
  forgedKey({
    primary: p521Forger(),
    userIds: LIMITS.maxUserIds,
    bogusSelfSignatures: LIMITS.maxFailedVerifications,
    subkeys: { forger: p521Forger, count: LIMITS.maxSubkeys },
  });

/** The costliest P-521 key still accepted: 10 user IDs and 5 signing subkeys, 20 checks at 7 units each. */
const largestAccepted = () => forgedKey({ primary: p521Forger(), userIds: LIMITS.maxUserIds, subkeys: { forger: p521Forger, count: 5 } });

function fieldCases(good: Awaited<ReturnType<typeof goodKey>>): Case[] {
  const single = (tag: number) => (target: number) => concatBytes([...good.head, writePacket(tag, randomBytes(target - 1024))]);
  const bigRsa = (bits: number, exponentBits: number) => () => {
    const exponent = randomBytes(exponentBits / 8);
    exponent[exponent.length - 1] = (exponent[exponent.length - 1] ?? 0) | 1;
    return bogusSelfSignatures(rsaForger(bits, exponentBits === 17 ? bytes([1, 0, 1]) : exponent));
  };
  const bigUserId = (target: number) => {
    const primary = ed25519Forger();
    const userId = utf8("x".repeat(target - 120 * LIMITS.maxSignaturePackets));
    const covered = userIdCovered(primary, userId);
    const sigs = Array.from({ length: LIMITS.maxSignaturePackets }, (_, index) =>
      writePacket(TAG.signature, signature({ type: 0x13, signer: primary, created: KEY_CREATED + index, covered, valid: false })),
    );
    return concatBytes([writePacket(TAG.publicKey, primary.body), writePacket(TAG.userId, userId), ...sigs]);
  };
  const bigSubkey = (target: number) => concatBytes([...good.head, writePacket(TAG.publicSubkey, keyBody(1, concatBytes([mpi(randomBytes(target - 1100)), mpi(bytes([1, 0, 1]))])))]);
  return [
    { name: "field: one 1 MiB user attribute", build: single(TAG.userAttribute) },
    { name: "field: one 1 MiB user ID, unsigned", build: single(TAG.userId) },
    { name: "field: one 1 MiB signature packet", build: single(TAG.signature) },
    { name: "field: one 1 MiB padding packet", build: single(TAG.padding) },
    { name: "field: one 1 MiB RSA subkey", build: bigSubkey },
    { name: "field: 1 MiB user attribute, 1-byte partial chunks", build: (target) => concatBytes([...good.head, partialPacket(TAG.userAttribute, target - 1024)]) },
    { name: "field: big user ID x 200 self-signatures", build: bigUserId },
    { name: "field: signatures of 64 KiB subpacket areas", build: (target) => fill(good.head, () => subpacketFloodSignature(), target) },
    { name: "field: RSA-16384, 199 bogus self-signatures", build: bigRsa(16384, 17) },
    { name: "field: RSA-3072, 3072-bit exponent, 199 bogus", build: bigRsa(3072, 3072) },
    { name: "field: RSA-16384, 16384-bit exponent, 199 bogus", build: bigRsa(16384, 16384) },
    { name: "field: Ed25519, 199 bogus self-signatures", build: () => bogusSelfSignatures(ed25519Forger()) },
    { name: "field: P-521, 199 bogus self-signatures", build: () => bogusSelfSignatures(p521Forger()) },
    {
      name: "field: P-521, 199 bogus, digests starting with 0",
      build: () => forgedKey({ primary: p521Forger(), bogusSelfSignatures: LIMITS.maxSignaturePackets - 1, zeroPrefix: true }),
    },
    { name: "field: 8 Ed25519 subkeys, bogus back-signatures", build: () => backSignatureFlood(ed25519Forger) },
    { name: "field: 8 P-521 subkeys, bogus back-signatures", build: () => backSignatureFlood(p521Forger) },
    { name: "field: 8 P-521 subkeys, 19 bogus back-signatures each", build: () => forgedKey({ primary: p521Forger(), subkeys: { forger: p521Forger, count: 8, bogusBackSignatures: () => 19 } }) },
    { name: `field: P-521, 10 user IDs, 8 subkeys, ${LIMITS.maxFailedVerifications} bogus`, build: p521AtEveryLimit },
    { name: "field: P-521, 10 user IDs, 5 subkeys (largest accepted)", build: largestAccepted },
    { name: "nesting: embedded signatures, 64 KiB deep each", build: (target) => fill(good.head, () => nestedSignature(0xffff), target) },
  ];
}

async function time(upload: Uint8Array, runs = RUNS): Promise<{ code: string; median: number; max: number }> {
  const once = async () => {
    const start = performance.now();
    const result = await inspectKey(upload, POLICY);
    return { ms: performance.now() - start, code: result.ok ? "accepted" : (result.problems[0]?.code ?? "?") };
  };
  const first = await once();
  const times: number[] = [];
  for (let index = 0; index < (first.ms > SLOW_MS ? 1 : runs); index++) times.push((await once()).ms);
  times.sort((a, b) => a - b);
  return { code: first.code.replace(/^KEYSIGN_(ERR_KEY_|ERR_)?/, ""), median: times[Math.floor(times.length / 2)] ?? 0, max: times.at(-1) ?? 0 };
}

export async function runIntakeWorst(args: readonly string[]): Promise<void> {
  const [filter = "", target = String(LIMITS.maxUploadBytes - 64)] = args;
  const good = await goodKey();
  const secret = await fixture("secret-binary.gpg");
  const typical = await time(await fixture("ed25519-good.asc"), 30);
  console.log(`\n## Worst-case key uploads through inspectKey (${RUNS} runs after one warm-up; target 100 ms each)`);
  console.log(`typical Ed25519 upload (ed25519-good.asc, 30 runs): median ${typical.median.toFixed(1)} ms, max ${typical.max.toFixed(1)} ms\n`);
  console.log("| input | bytes | outcome | median ms | max ms | × typical |");
  console.log("|---|---:|---|---:|---:|---:|");
  const cases = [...compressionCases(good, secret), ...floodCases(good), ...armorCases(good), ...fieldCases(good)];
  for (const { name, build } of cases.filter((candidate) => candidate.name.includes(filter))) {
    const upload = await build(Number(target));
    const { code, median, max } = await time(upload);
    console.log(`| ${name} | ${upload.length} | ${code} | ${median.toFixed(1)} | ${max.toFixed(1)} | ${(median / typical.median).toFixed(1)} |`);
  }
}
