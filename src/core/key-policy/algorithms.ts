/**
 * Reads the algorithm of a v4 key packet straight from its bytes and names it.
 *
 * We read the raw fields ourselves (rather than ask the library) so that a refused algorithm,
 * e.g. brainpool or Ed448, is named precisely even when the library could not parse the key,
 * and so that RSA sizes are exact bit lengths (openpgp.js rounds up to whole bytes).
 */
import { readNumber, toHex } from "./packets.ts";
import { LIMITS, type PrimaryAlgorithmId } from "./types.ts";

export type AlgorithmFamily = "eddsa" | "ecdsa" | "ecdh" | "rsa" | "other";

export interface KeyAlgorithm {
  id: number;
  family: AlgorithmFamily;
  /** Human label, e.g. "RSA 4096", "Ed25519", "ECDSA P-256", "Curve25519 (ECDH)". */
  label: string;
  bits: number;
  /** Set only for the curves and variants the policy accepts. */
  accepted: "ed25519" | "p256" | "p384" | "p521" | "cv25519" | "rsa" | null;
  /** Why an RSA key's public exponent is refused, or null (always null for other algorithms). */
  exponentProblem: string | null;
}

interface CurveInfo {
  name: string;
  bits: number;
  accepted: KeyAlgorithm["accepted"];
}

// DER-encoded OID bodies (RFC 4880bis / RFC 6637 / RFC 9580 §9.2).
const CURVES: ReadonlyMap<string, CurveInfo> = new Map([
  ["2b06010401da470f01", { name: "Ed25519", bits: 255, accepted: "ed25519" }],
  ["2b060104019755010501", { name: "Curve25519", bits: 255, accepted: "cv25519" }],
  ["2a8648ce3d030107", { name: "P-256", bits: 256, accepted: "p256" }],
  ["2b81040022", { name: "P-384", bits: 384, accepted: "p384" }],
  ["2b81040023", { name: "P-521", bits: 521, accepted: "p521" }],
  ["2b8104000a", { name: "secp256k1", bits: 256, accepted: null }],
  ["2b2403030208010107", { name: "brainpoolP256r1", bits: 256, accepted: null }],
  ["2b240303020801010b", { name: "brainpoolP384r1", bits: 384, accepted: null }],
  ["2b240303020801010d", { name: "brainpoolP512r1", bits: 512, accepted: null }],
  ["2b656e", { name: "X25519", bits: 255, accepted: null }],
  ["2b656f", { name: "X448", bits: 448, accepted: null }],
  ["2b6570", { name: "Ed25519 (RFC 8410 OID)", bits: 255, accepted: null }],
  ["2b6571", { name: "Ed448", bits: 448, accepted: null }],
]);

const UNKNOWN_CURVE: CurveInfo = { name: "an unknown curve", bits: 0, accepted: null };

/** Offset of the algorithm-specific fields in a v4 key packet: version, 4-byte time, algorithm. */
const PARAMS_OFFSET = 6;

export function readKeyAlgorithm(body: Uint8Array): KeyAlgorithm {
  const id = body[5] ?? 0;
  switch (id) {
    case 1:
      return rsa(id, body, "");
    case 2:
      return rsa(id, body, " (encrypt-only)");
    case 3:
      return rsa(id, body, " (sign-only)");
    case 16:
      return other(id, `ElGamal ${mpiBits(body, PARAMS_OFFSET)}`);
    case 17:
      return other(id, `DSA ${mpiBits(body, PARAMS_OFFSET)}`);
    case 20:
      return other(id, `ElGamal ${mpiBits(body, PARAMS_OFFSET)} (sign and encrypt)`);
    case 18:
      return ecc(id, "ecdh", readCurve(body));
    case 19:
      return ecc(id, "ecdsa", readCurve(body));
    case 22:
      return ecc(id, "eddsa", readCurve(body));
    default:
      return other(id, namedAlgorithm(id));
  }
}

function namedAlgorithm(id: number): string {
  // The RFC 9580 algorithms are readable by GnuPG 2.4+ only; openpgp.js makes them for
  // `type: "curve25519"` even in v4 keys, where `type: "ecc"` gives the legacy form GnuPG 2.2 reads.
  const names: Record<number, string> = {
    25: "X25519 in the RFC 9580 format (algorithm 25), which GnuPG 2.2 cannot read",
    26: "X448",
    27: 'Ed25519 in the RFC 9580 format (algorithm 27), which GnuPG 2.2 cannot read (in openpgp.js use type "ecc")',
    28: "Ed448",
  };
  return names[id] ?? `unknown public-key algorithm ${id}`;
}

function rsa(id: number, body: Uint8Array, suffix: string): KeyAlgorithm {
  const bits = mpiBits(body, PARAMS_OFFSET);
  const exponentProblem = rsaExponentProblem(body);
  const label = `RSA ${bits}${suffix}${exponentProblem ? ` (${exponentProblem})` : ""}`;
  return { id, family: "rsa", label, bits, accepted: id === 1 && exponentProblem === null ? "rsa" : null, exponentProblem };
}

/**
 * The public exponent is read before anything is verified: verification time grows with its
 * length (about 8 ms a signature for a 2,040-bit exponent on RSA-2048, against 0.05 ms for
 * 65537), and 1 or an even number is no RSA key at all (with 1, anyone can make signatures
 * that verify).
 */
function rsaExponentProblem(body: Uint8Array): string | null {
  const modulusBits = readNumber(body, PARAMS_OFFSET, 2);
  if (modulusBits === null) return null;
  const offset = PARAMS_OFFSET + 2 + Math.ceil(modulusBits / 8);
  const bits = mpiBits(body, offset);
  const declared = readNumber(body, offset, 2) ?? 0;
  const last = body[offset + 1 + Math.ceil(declared / 8)] ?? 0;
  if (bits > LIMITS.maxRsaExponentBits) return `its public exponent is ${bits} bits long`;
  if (bits < 2 || (last & 1) === 0) return "its public exponent is 1 or even";
  return null;
}

function other(id: number, label: string): KeyAlgorithm {
  return { id, family: "other", label, bits: 0, accepted: null, exponentProblem: null };
}

function ecc(id: number, family: AlgorithmFamily, curve: CurveInfo): KeyAlgorithm {
  const label = eccLabel(family, curve);
  const accepted = isAcceptedPair(family, curve.accepted) ? curve.accepted : null;
  return { id, family, label, bits: curve.bits, accepted, exponentProblem: null };
}

function eccLabel(family: AlgorithmFamily, curve: CurveInfo): string {
  if (family === "eddsa") return curve.accepted === "ed25519" ? "Ed25519" : `EdDSA on ${curve.name}`;
  if (family === "ecdh") return curve.accepted === "cv25519" ? "Curve25519 (ECDH)" : `ECDH ${curve.name}`;
  return `ECDSA ${curve.name}`;
}

/** A curve is only acceptable with the algorithm it was designed for (no ECDSA over Ed25519's OID). */
function isAcceptedPair(family: AlgorithmFamily, curve: KeyAlgorithm["accepted"]): boolean {
  if (curve === null) return false;
  if (family === "eddsa") return curve === "ed25519";
  if (family === "ecdsa") return curve === "p256" || curve === "p384" || curve === "p521";
  return curve === "cv25519" || curve === "p256" || curve === "p384" || curve === "p521";
}

function readCurve(body: Uint8Array): CurveInfo {
  const oidLength = body[PARAMS_OFFSET];
  if (oidLength === undefined || oidLength === 0 || oidLength === 0xff) return UNKNOWN_CURVE;
  const oid = body.subarray(PARAMS_OFFSET + 1, PARAMS_OFFSET + 1 + oidLength);
  return CURVES.get(toHex(oid)) ?? UNKNOWN_CURVE;
}

/** Exact bit length of the MPI at `offset`, ignoring its (possibly wrong) declared length. */
function mpiBits(body: Uint8Array, offset: number): number {
  const declared = readNumber(body, offset, 2);
  if (declared === null) return 0;
  const bytes = body.subarray(offset + 2, offset + 2 + Math.ceil(declared / 8));
  const first = bytes.findIndex((byte) => byte !== 0);
  if (first < 0) return 0;
  const lead = bytes[first] ?? 0;
  return (bytes.length - first - 1) * 8 + (32 - Math.clz32(lead));
}

export function primaryAlgorithmId(algorithm: KeyAlgorithm): PrimaryAlgorithmId | null {
  switch (algorithm.family === "ecdh" ? null : algorithm.accepted) {
    case "ed25519":
      return "ed25519";
    case "p256":
      return "ecdsa-p256";
    case "p384":
      return "ecdsa-p384";
    case "p521":
      return "ecdsa-p521";
    case "rsa":
      return "rsa";
    default:
      return null;
  }
}

/** Whether the algorithm can make signatures (and so may carry the sign or authenticate flag). */
export function canSignWith(algorithm: KeyAlgorithm): boolean {
  return algorithm.family === "eddsa" || algorithm.family === "ecdsa" || algorithm.family === "rsa";
}

/** Whether the algorithm can receive encrypted data (and so may carry the encrypt flags). */
export function canEncryptWith(algorithm: KeyAlgorithm): boolean {
  return algorithm.family === "ecdh" || algorithm.family === "rsa";
}
