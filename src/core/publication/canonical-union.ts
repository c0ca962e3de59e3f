/**
 * Canonical copies of one key, read as components and joined without losing anything.
 *
 * Every input here is a canonical copy the portal stored (intake's output or an owner update's),
 * so every signature in it was verified when it was stored; nothing is verified again. A
 * canonical copy holds, per component, its newest self-signature and the owner's revocations:
 *
 *   primary key, key revocations (0x20), the newest direct-key signature (0x1F),
 *   per user ID: the user ID, its newest self-certification (0x10–0x13), its revocations (0x30),
 *   per subkey: the subkey, its newest binding (0x18), its revocations (0x28).
 *
 * `unionCanonical` keeps every user ID, subkey and revocation of both copies and, per component,
 * the newer self-signature (the first copy's when both are of the same second), so what was
 * published once is never withdrawn (a revocation merged from an owner update survives a later
 * renewal request whose upload lacked it). The output depends only on the two inputs, in their
 * order, so the same inputs always give the same bytes.
 */
import { concatBytes, scanPackets, TAG, toHex, writePacket } from "../key-policy/packets.ts";
import { parseSignature } from "../key-policy/structure.ts";

export interface LayoutComponent {
  raw: Uint8Array;
  /** The newest self-signature (certification, binding or direct-key), a whole signature body. */
  selfSignature: Uint8Array | null;
  /** Revocations by the owner, oldest first. */
  revocations: Uint8Array[];
}

export interface CanonicalLayout {
  primary: LayoutComponent;
  userIds: LayoutComponent[];
  subkeys: LayoutComponent[];
}

const SIGNATURE_TYPE = Object.freeze({
  keyRevocation: 0x20,
  certRevocation: 0x30,
  subkeyRevocation: 0x28,
  direct: 0x1f,
  subkeyBinding: 0x18,
});

const REVOCATIONS: ReadonlySet<number> = new Set([SIGNATURE_TYPE.keyRevocation, SIGNATURE_TYPE.certRevocation, SIGNATURE_TYPE.subkeyRevocation]);

/** Groups a canonical copy; throws on anything that is not one (a programming error, never input). */
export function readLayout(canonicalKey: Uint8Array): CanonicalLayout {
  const scan = scanPackets(canonicalKey);
  const [first, ...rest] = scan.packets;
  if (!scan.complete || first?.tag !== TAG.publicKey) throw new Error("the stored key is not a binary public key");
  const layout: CanonicalLayout = { primary: component(first.body), userIds: [], subkeys: [] };
  let current = layout.primary;
  for (const packet of rest) {
    if (packet.tag === TAG.signature) addSignature(current, packet.body);
    else if (packet.tag === TAG.userId) layout.userIds.push((current = component(packet.body)));
    else if (packet.tag === TAG.publicSubkey) layout.subkeys.push((current = component(packet.body)));
    else throw new Error("the stored key holds packets a canonical key does not have");
  }
  return layout;
}

/** Whether the owner revoked the key itself (a 0x20 kept only after it verified). */
export function isRevokedByOwner(canonicalKey: Uint8Array): boolean {
  return readLayout(canonicalKey).primary.revocations.length > 0;
}

function component(raw: Uint8Array): LayoutComponent {
  return { raw, selfSignature: null, revocations: [] };
}

/**
 * Adds a signature to its component: a revocation is kept, a self-signature only if it was made
 * later than the one there. Of two made in the same second the one already there stays, so
 * sending another signature of the same instant does not change the published bytes.
 */
export function addSignature(target: LayoutComponent, body: Uint8Array): void {
  if (REVOCATIONS.has(body[1] ?? 0)) {
    if (!target.revocations.some((known) => sameSignature(known, body))) target.revocations = [...target.revocations, body].sort(bySignatureAge);
    return;
  }
  if (target.selfSignature === null || signatureTime(body) > signatureTime(target.selfSignature)) target.selfSignature = body;
}

/** Oldest first; equal times are ordered by their bytes, so the choice never depends on input order. */
function bySignatureAge(a: Uint8Array, b: Uint8Array): number {
  const age = signatureTime(a) - signatureTime(b);
  if (age !== 0) return age;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function signatureTime(body: Uint8Array): number {
  return parseSignature(body)?.packet.created?.getTime() ?? 0;
}

/** The same signature whatever its unhashed area says: the signed bytes and the signature value. */
export function signatureIdentity(body: Uint8Array): string {
  const parsed = parseSignature(body);
  return parsed ? `${toHex(parsed.layout.signedPrefix)}:${toHex(parsed.layout.trailer)}` : toHex(body);
}

function sameSignature(a: Uint8Array, b: Uint8Array): boolean {
  return signatureIdentity(a) === signatureIdentity(b);
}

export function writeLayout(layout: CanonicalLayout): Uint8Array {
  const packets = [writePacket(TAG.publicKey, layout.primary.raw)];
  // Revocations first, as GnuPG exports them: a client that stops early still sees them.
  packets.push(...layout.primary.revocations.map(signaturePacket));
  if (layout.primary.selfSignature) packets.push(signaturePacket(layout.primary.selfSignature));
  for (const [tag, components] of [[TAG.userId, layout.userIds], [TAG.publicSubkey, layout.subkeys]] as const) {
    for (const entry of components) {
      packets.push(writePacket(tag, entry.raw));
      if (entry.selfSignature) packets.push(signaturePacket(entry.selfSignature));
      packets.push(...entry.revocations.map(signaturePacket));
    }
  }
  return concatBytes(packets);
}

function signaturePacket(body: Uint8Array): Uint8Array {
  return writePacket(TAG.signature, body);
}

/**
 * Everything of `base` and of `addition` (two canonical copies of the same primary key):
 * components in `base`'s order, then those only `addition` has, in its order.
 */
export function unionCanonical(base: Uint8Array, addition: Uint8Array): Uint8Array {
  const left = readLayout(base);
  const right = readLayout(addition);
  if (toHex(left.primary.raw) !== toHex(right.primary.raw)) throw new Error("the two copies are of different keys");
  mergeComponent(left.primary, right.primary);
  left.userIds = mergeComponents(left.userIds, right.userIds);
  left.subkeys = mergeComponents(left.subkeys, right.subkeys);
  return writeLayout(left);
}

function mergeComponents(base: readonly LayoutComponent[], addition: readonly LayoutComponent[]): LayoutComponent[] {
  const byRaw = new Map(base.map((entry) => [toHex(entry.raw), { ...entry }]));
  for (const entry of addition) {
    const known = byRaw.get(toHex(entry.raw));
    if (known) mergeComponent(known, entry);
    else byRaw.set(toHex(entry.raw), { ...entry });
  }
  return [...byRaw.values()];
}

function mergeComponent(target: LayoutComponent, addition: LayoutComponent): void {
  if (addition.selfSignature) addSignature(target, addition.selfSignature);
  for (const revocation of addition.revocations) addSignature(target, revocation);
}
