/**
 * The one place that builds openpgp.js configuration objects. Every call into openpgp.js
 * that accepts a `config` gets a fresh object from here; the library's global
 * `openpgp.config` is never mutated, so one caller's settings cannot leak into another's.
 */
import { config as libraryDefaults, type Config } from "openpgp";

export interface InspectionConfigOptions {
  minRsaBits: number;
}

/**
 * Configuration for parsing and verifying keys and signatures that our own policy then judges.
 *
 * The library's own refusals are switched off on purpose: a SHA-1 self-signature, an RSA-1024
 * key or a secp256k1 curve must still parse and verify here, so that the key policy can refuse
 * them with its own code and an actionable message instead of surfacing library error text.
 * Nothing the library accepts here is accepted by the portal without an explicit check.
 */
export function inspectionConfig(options: InspectionConfigOptions): Config {
  return {
    ...libraryDefaults,
    rejectHashAlgorithms: new Set(),
    rejectMessageHashAlgorithms: new Set(),
    rejectPublicKeyAlgorithms: new Set(),
    rejectCurves: new Set(),
    minRSABits: options.minRsaBits,
    // v5 entities never reach the parser (the version byte is checked first); keep it off anyway.
    enableParsingV5Entities: false,
    v6Keys: false,
    ignoreUnsupportedPackets: false,
    ignoreMalformedPackets: false,
    enforceGrammar: true,
    allowMissingKeyFlags: false,
    knownNotations: [],
    additionalAllowedPackets: [],
    // Armored output must be byte-for-byte reproducible: no version or comment header.
    showVersion: false,
    showComment: false,
  };
}
