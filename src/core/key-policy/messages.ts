/**
 * Every code and user-facing sentence of the key intake policy, in one place.
 *
 * Messages name what was found and say what to do next. They may quote user IDs (escaped by
 * `quoteText`), fingerprints and key IDs, which are public; they never contain key material.
 */
import { LIMITS, type PolicyProblem } from "./types.ts";

export const CODES = Object.freeze({
  empty: "KEYSIGN_ERR_KEY_EMPTY",
  tooLarge: "KEYSIGN_ERR_KEY_TOO_LARGE",
  canonicalTooLarge: "KEYSIGN_ERR_KEY_CANONICAL_TOO_LARGE",
  secret: "KEYSIGN_ERR_KEY_SECRET",
  malformed: "KEYSIGN_ERR_KEY_MALFORMED",
  wrongType: "KEYSIGN_ERR_KEY_WRONG_TYPE",
  compressed: "KEYSIGN_ERR_KEY_COMPRESSED",
  multiple: "KEYSIGN_ERR_KEY_MULTIPLE",
  version: "KEYSIGN_ERR_KEY_VERSION",
  algorithm: "KEYSIGN_ERR_KEY_ALGORITHM",
  rsaSize: "KEYSIGN_ERR_KEY_RSA_SIZE",
  weakHash: "KEYSIGN_ERR_KEY_WEAK_HASH",
  future: "KEYSIGN_ERR_KEY_FUTURE",
  expired: "KEYSIGN_ERR_KEY_EXPIRED",
  revoked: "KEYSIGN_ERR_KEY_REVOKED",
  noValidUserId: "KEYSIGN_ERR_KEY_NO_VALID_USERID",
  noEmail: "KEYSIGN_ERR_KEY_NO_EMAIL",
  cannotSign: "KEYSIGN_ERR_KEY_CANNOT_SIGN",
  tooManyUserIds: "KEYSIGN_ERR_KEY_TOO_MANY_USERIDS",
  tooManySubkeys: "KEYSIGN_ERR_KEY_TOO_MANY_SUBKEYS",
  tooManySignatures: "KEYSIGN_ERR_KEY_TOO_MANY_SIGNATURES",
  tooManyUserAttributes: "KEYSIGN_ERR_KEY_TOO_MANY_USER_ATTRIBUTES",
  tooManyPackets: "KEYSIGN_ERR_KEY_TOO_MANY_PACKETS",
  tooManyArmorBlocks: "KEYSIGN_ERR_KEY_TOO_MANY_ARMOR_BLOCKS",
  tooManyArmorLines: "KEYSIGN_ERR_KEY_TOO_MANY_ARMOR_LINES",
  armorLineTooLong: "KEYSIGN_ERR_KEY_ARMOR_LINE_TOO_LONG",
  keyPacketSize: "KEYSIGN_ERR_KEY_PACKET_SIZE",
  tooManySubpackets: "KEYSIGN_ERR_KEY_TOO_MANY_SUBPACKETS",
  embeddedSignature: "KEYSIGN_ERR_KEY_EMBEDDED_SIGNATURE",
  rsaExponent: "KEYSIGN_ERR_KEY_RSA_EXPONENT",
  badSelfSignatures: "KEYSIGN_ERR_KEY_BAD_SELF_SIGNATURES",
  tooManyChecks: "KEYSIGN_ERR_KEY_TOO_MANY_CHECKS",
  userIdEncoding: "KEYSIGN_ERR_USERID_ENCODING",
  userIdTooLong: "KEYSIGN_ERR_USERID_TOO_LONG",
  userIdCharacters: "KEYSIGN_ERR_USERID_CHARACTERS",
  userIdFormat: "KEYSIGN_ERR_USERID_FORMAT",
  userIdNotInKey: "KEYSIGN_ERR_USERID_NOT_IN_KEY",
  userIdNoneSelected: "KEYSIGN_ERR_USERID_NONE_SELECTED",
  signatureMalformed: "KEYSIGN_ERR_SIGNATURE_MALFORMED",
  signatureNotDetached: "KEYSIGN_ERR_SIGNATURE_NOT_DETACHED",
  signatureType: "KEYSIGN_ERR_SIGNATURE_TYPE",
  signatureWeakHash: "KEYSIGN_ERR_SIGNATURE_WEAK_HASH",
  signatureWrongKey: "KEYSIGN_ERR_SIGNATURE_WRONG_KEY",
  signatureInvalid: "KEYSIGN_ERR_SIGNATURE_INVALID",
  signatureTime: "KEYSIGN_ERR_SIGNATURE_TIME",
  warnRsaBelow3072: "KEYSIGN_WARN_RSA_BELOW_3072",
  warnExpiresSoon: "KEYSIGN_WARN_KEY_EXPIRES_SOON",
  warnUserIdsRemoved: "KEYSIGN_WARN_USERIDS_REMOVED",
  warnSubkeyRemoved: "KEYSIGN_WARN_SUBKEY_REMOVED",
  warnUserAttributesRemoved: "KEYSIGN_WARN_USER_ATTRIBUTES_REMOVED",
  warnCertificationsRemoved: "KEYSIGN_WARN_CERTIFICATIONS_REMOVED",
});

/** Stands for the key's fingerprint in a command until the key is known; `inspectKey` fills it in once it is. */
export const FINGERPRINT_PLACEHOLDER = "YOUR-FINGERPRINT";

const EXPORT_HINT = "Export it with `gpg --armor --export YOUR-FINGERPRINT` and upload the whole output, unchanged.";
const REFRESH_SELF_SIGS =
  "Renew the self-signatures with a modern hash and export again: " +
  "`gpg --cert-digest-algo SHA512 --quick-set-expire YOUR-FINGERPRINT 2y` " +
  "(repeat with `'*'` after the expiry to renew the subkeys).";
const NEW_KEY_HINT = "Create a new key, for example `gpg --quick-gen-key 'Your Name <you@example.org>' ed25519 sign,cert 2y`.";

function problem(code: string, message: string): PolicyProblem {
  return { code, message };
}

export const messages = {
  empty: () => problem(CODES.empty, `this is not an OpenPGP public key: the upload is empty. ${EXPORT_HINT}`),
  tooLarge: (bytes: number) =>
    problem(
      CODES.tooLarge,
      `the upload is ${bytes} bytes; a public key upload may be at most ${LIMITS.maxUploadBytes} bytes (1 MiB). ` +
        "Export it without other people's signatures: `gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT`.",
    ),
  canonicalTooLarge: (bytes: number) =>
    problem(
      CODES.canonicalTooLarge,
      `even after removing everything we do not keep, the key is ${bytes} bytes; the limit is ${LIMITS.maxCanonicalBytes} bytes (256 KiB). ` +
        "Remove user IDs or subkeys you do not need, or large notations from the self-signatures, and export again.",
    ),
  secret: () =>
    problem(
      CODES.secret,
      "secret key material detected; nothing was stored. The upload contained private key data (a private key, a secret subkey or a GnuPG stub), " +
        "so treat that key as exposed: revoke it, create a new key, and upload only its public part " +
        "(`gpg --armor --export YOUR-FINGERPRINT`, never `--export-secret-keys`).",
    ),
  malformed: (detail: string) => problem(CODES.malformed, `this is not an OpenPGP public key: ${detail}. ${EXPORT_HINT}`),
  wrongType: (found: string) =>
    problem(
      CODES.wrongType,
      `this is ${found}, not a public key. Upload the public key block only: it starts with ` +
        "`-----BEGIN PGP PUBLIC KEY BLOCK-----` and is what `gpg --armor --export YOUR-FINGERPRINT` prints.",
    ),
  compressed: () =>
    problem(
      CODES.compressed,
      "the upload contains compressed data, which is not accepted and was not opened. Upload the key uncompressed, as printed by " +
        "`gpg --armor --export YOUR-FINGERPRINT`. A secret key must never be uploaded: if this file held one (for example from " +
        "`--export-secret-keys`), consider that key exposed, revoke it and create a new one.",
    ),
  multiple: (count: number) =>
    problem(
      CODES.multiple,
      `the upload contains ${count} keys; upload exactly one public key, e.g. \`gpg --armor --export YOUR-FINGERPRINT\` with a single fingerprint.`,
    ),
  version: (version: number) =>
    problem(
      CODES.version,
      version < 4
        ? `this is a version ${version} key (PGP 2.x era), which is obsolete and insecure. ${NEW_KEY_HINT}`
        : `this is a version ${version} key; only version 4 keys are accepted, because FreePBX installs verify modules with GnuPG 2.2, ` +
            "which cannot read version 5 or 6 keys. Create a version 4 key (GnuPG 2.2 and 2.4 do so by default; in openpgp.js leave `v6Keys` off).",
    ),
  algorithm: (label: string, minRsaBits: number) =>
    problem(
      CODES.algorithm,
      `the primary key uses ${label}, which is not accepted. Accepted are Ed25519, ECDSA P-256, P-384 or P-521, ` +
        `and RSA with at least ${minRsaBits} bits. ${NEW_KEY_HINT}`,
    ),
  rsaTooSmall: (bits: number, minRsaBits: number) =>
    problem(
      CODES.rsaSize,
      `the primary key is RSA ${bits}; at least ${minRsaBits} bits are required (${LIMITS.rsaWarnBelowBits} or more recommended). ${NEW_KEY_HINT}`,
    ),
  rsaTooLarge: (bits: number) =>
    problem(CODES.rsaSize, `the primary key is RSA ${bits}; at most ${LIMITS.maxRsaBits} bits are accepted. ${NEW_KEY_HINT}`),
  weakHash: (hash: string, where: string) =>
    problem(CODES.weakHash, `the ${where} uses ${hash}, which is no longer accepted for key signatures. ${REFRESH_SELF_SIGS}`),
  future: (created: Date) =>
    problem(
      CODES.future,
      `the key's creation time (${created.toISOString()}) is in the future. Check the clock of the computer that made the key, or try again later.`,
    ),
  expired: (at: Date) =>
    problem(
      CODES.expired,
      `the key expired on ${at.toISOString()}. Extend it with \`gpg --quick-set-expire YOUR-FINGERPRINT 2y\`, then export and upload it again.`,
    ),
  revoked: () => problem(CODES.revoked, `the key has been revoked by its owner and cannot be certified. ${NEW_KEY_HINT}`),
  noValidUserId: () =>
    problem(
      CODES.noValidUserId,
      "no user ID on this key carries a valid self-signature, so there is nothing to certify. " +
        "Add one with `gpg --quick-add-uid YOUR-FINGERPRINT 'Your Name <you@example.org>'` and export again.",
    ),
  noEmail: () =>
    problem(
      CODES.noEmail,
      "none of the key's valid user IDs contains an email address. " +
        "Add one with `gpg --quick-add-uid YOUR-FINGERPRINT 'Your Name <you@example.org>'` and export again.",
    ),
  cannotSign: () =>
    problem(
      CODES.cannotSign,
      "neither the primary key nor any properly bound subkey can make signatures. Add a signing subkey with " +
        "`gpg --quick-add-key YOUR-FINGERPRINT ed25519 sign 2y` (GnuPG adds the required back-signature) and export again.",
    ),
  tooManyUserIds: (count: number) =>
    problem(
      CODES.tooManyUserIds,
      `the key has ${count} user IDs; at most ${LIMITS.maxUserIds} are accepted. Export only the ones you need, e.g. ` +
        "`gpg --armor --export-filter keep-uid='mbox = you@example.org' --export YOUR-FINGERPRINT`.",
    ),
  tooManySubkeys: (count: number) =>
    problem(
      CODES.tooManySubkeys,
      `the key has ${count} subkeys; at most ${LIMITS.maxSubkeys} are accepted. Export it without expired or revoked subkeys, e.g. ` +
        "`gpg --armor --export-filter drop-subkey='expired -t || revoked -t' --export YOUR-FINGERPRINT`.",
    ),
  tooManySignatures: (count: number) =>
    problem(
      CODES.tooManySignatures,
      `the key carries ${count} signatures; at most ${LIMITS.maxSignaturePackets} are accepted. Export it without other people's signatures: ` +
        "`gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT`.",
    ),
  tooManyUserAttributes: (count: number) =>
    problem(
      CODES.tooManyUserAttributes,
      `the key has ${count} photo IDs or other user attributes; at most ${LIMITS.maxUserAttributes} are read, and none is kept. ` +
        "Delete the ones you do not need (`gpg --edit-key YOUR-FINGERPRINT`, then `uid N` and `deluid` for each) and export again.",
    ),
  tooManyPackets: (count: number) =>
    problem(
      CODES.tooManyPackets,
      `the upload holds ${count} OpenPGP packets; at most ${LIMITS.maxPackets} are read, far more than one key needs. ` +
        "Export only your key, without other people's signatures: `gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT`.",
    ),
  tooManyArmorBlocks: (count: number) =>
    problem(
      CODES.tooManyArmorBlocks,
      `the upload holds ${count} armored blocks (-----BEGIN PGP …-----); exactly one public key is accepted and at most ` +
        `${LIMITS.maxArmorBlocks} blocks are read. Upload the single block printed by \`gpg --armor --export YOUR-FINGERPRINT\`.`,
    ),
  tooManyArmorLines: (count: number) =>
    problem(
      CODES.tooManyArmorLines,
      `the armored text has ${count} lines; at most ${LIMITS.maxArmorLines} are read, blank ones included, more than a 1 MiB key needs at 64 characters a line. ` +
        `The text may have been re-wrapped or padded. ${EXPORT_HINT}`,
    ),
  armorLineTooLong: (line: number, length: number) =>
    problem(
      CODES.armorLineTooLong,
      `line ${line} of the armored text is ${length} characters long; armor lines have at most 76 and lines over ` +
        `${LIMITS.maxArmorLineLength} are not read. The line breaks may have been removed. ${EXPORT_HINT}`,
    ),
  keyPacketSize: (bytes: number) =>
    problem(
      CODES.keyPacketSize,
      `a key packet in the upload is ${bytes} bytes; no accepted key needs more than ${LIMITS.maxKeyPacketBytes} (an RSA-16384 key is about 2 KiB). ` +
        `The key is damaged or not one we accept. ${EXPORT_HINT}`,
    ),
  tooManySubpackets: () =>
    problem(
      CODES.tooManySubpackets,
      `a signature in the upload has more than ${LIMITS.maxSubpackets} subpackets; a self-signature has about 15. ` +
        "Export the key without other people's signatures: `gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT`.",
    ),
  embeddedSignature: () =>
    problem(
      CODES.embeddedSignature,
      "a signature in the upload embeds a signature that is damaged, not version 4, or embeds another one in turn; " +
        `the only embedded signature a key needs is a subkey's back-signature, which never does. ${EXPORT_HINT}`,
    ),
  rsaExponent: (detail: string) =>
    problem(
      CODES.rsaExponent,
      `the primary key is RSA, but ${detail}; the public exponent must be odd, at least 3 and at most ${LIMITS.maxRsaExponentBits} bits long ` +
        `(GnuPG uses 65537). ${NEW_KEY_HINT}`,
    ),
  badSelfSignatures: () =>
    problem(
      CODES.badSelfSignatures,
      "several signatures on this key claim to be its own but do not verify, so it was not checked further. " +
        "The key was damaged or altered after it left your keyring. Export it again from your own keyring: " +
        "`gpg --armor --export-options export-clean --export YOUR-FINGERPRINT`.",
    ),
  tooManyChecks: () =>
    problem(
      CODES.tooManyChecks,
      "checking this key's self-signatures would take longer than the portal spends on one upload, so it was not checked further: " +
        "it has many user IDs and subkeys on a slow algorithm (P-384, P-521 or RSA above 4096 bits). Export only what you want certified " +
        "(`gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT`), remove user IDs and subkeys you no longer use, or use an Ed25519 key.",
    ),
  userIdEncoding: (quoted: string) =>
    problem(
      CODES.userIdEncoding,
      `the user ID ${quoted} is not valid UTF-8. Add a correctly encoded user ID and revoke this one, then export again.`,
    ),
  userIdTooLong: (quoted: string, bytes: number) =>
    problem(
      CODES.userIdTooLong,
      `the user ID ${quoted} is ${bytes} bytes long; at most ${LIMITS.maxUserIdBytes} are accepted. Use a shorter user ID.`,
    ),
  userIdCharacters: (quoted: string) =>
    problem(
      CODES.userIdCharacters,
      `the user ID ${quoted} contains control, direction-changing, invisible or unusual space characters (shown as \\u{…}). ` +
        "Use a user ID made of visible characters and plain spaces only.",
    ),
  userIdFormat: (quoted: string, detail: string) =>
    problem(
      CODES.userIdFormat,
      `the user ID ${quoted} is not accepted: ${detail}. Use the form \`Your Name <you@example.org>\` or a bare address.`,
    ),
  userIdNotInKey: (quoted: string) =>
    problem(CODES.userIdNotInKey, `the user ID ${quoted} is not one of this key's valid user IDs.`),
  userIdNoneSelected: () => problem(CODES.userIdNoneSelected, "select at least one user ID to certify."),
  signatureMalformed: (detail: string) =>
    problem(
      CODES.signatureMalformed,
      `this is not a usable detached OpenPGP signature: ${detail}. Make one with \`gpg --armor --detach-sign FILE\` and upload FILE.asc.`,
    ),
  signatureNotDetached: (found: string) =>
    problem(
      CODES.signatureNotDetached,
      `this is ${found}; only detached signatures are accepted. Make one with \`gpg --armor --detach-sign FILE\` and upload FILE.asc.`,
    ),
  signatureType: () =>
    problem(
      CODES.signatureType,
      "this is a text-mode or non-document signature; sign the file as binary with `gpg --armor --detach-sign FILE` (without `--textmode`).",
    ),
  signatureWeakHash: (hash: string) =>
    problem(
      CODES.signatureWeakHash,
      `the signature uses ${hash}, which is not accepted. Sign again with a modern hash: \`gpg --digest-algo SHA512 --armor --detach-sign FILE\`.`,
    ),
  signatureWrongKey: (issuer: string) =>
    problem(
      CODES.signatureWrongKey,
      `the signature was made by ${issuer}, which is not this key nor one of its signing subkeys. Sign with the key you uploaded: ` +
        "`gpg --local-user YOUR-FINGERPRINT --armor --detach-sign FILE`.",
    ),
  signatureByNonSigningSubkey: (fingerprint: string) =>
    problem(
      CODES.signatureWrongKey,
      `the signature was made by subkey ${fingerprint}, which is not marked for signing. Sign with the primary key or a signing subkey: ` +
        "`gpg --local-user YOUR-FINGERPRINT --armor --detach-sign FILE`.",
    ),
  signatureInvalid: () =>
    problem(
      CODES.signatureInvalid,
      "the signature does not match this file. Sign exactly the file you upload, after its last change, with `gpg --armor --detach-sign FILE`.",
    ),
  signatureTime: (detail: string) =>
    problem(CODES.signatureTime, `the signature's time is not acceptable: ${detail}. Check your computer's clock and sign again.`),
  warnRsaBelow3072: (bits: number) =>
    problem(
      CODES.warnRsaBelow3072,
      `the key is RSA ${bits}; it is accepted, but ${LIMITS.rsaWarnBelowBits} bits or Ed25519 are recommended for new keys.`,
    ),
  warnExpiresSoon: (at: Date) =>
    problem(
      CODES.warnExpiresSoon,
      `the key expires on ${at.toISOString()}, within ${LIMITS.expiryWarningDays} days. Extend it with \`gpg --quick-set-expire YOUR-FINGERPRINT 2y\` and upload it again.`,
    ),
  warnUserIdsRemoved: (quoted: string[], reason: string) =>
    problem(CODES.warnUserIdsRemoved, `removed ${quoted.length} user ID(s) ${reason}: ${quoted.join(", ")}.`),
  warnSubkeyRemoved: (fingerprint: string, reason: string) =>
    problem(CODES.warnSubkeyRemoved, `removed subkey ${fingerprint}: ${reason}.`),
  warnUserAttributesRemoved: (count: number) =>
    problem(CODES.warnUserAttributesRemoved, `removed ${count} photo ID(s) or other user attribute(s); they are never certified.`),
  warnCertificationsRemoved: (count: number) =>
    problem(CODES.warnCertificationsRemoved, `removed ${count} signature(s) made by other keys; only the key's own self-signatures are kept.`),
};

/** Display names of hash algorithm IDs (RFC 9580 §9.5). */
export function hashName(id: number): string {
  const names: Record<number, string> = {
    1: "MD5",
    2: "SHA-1",
    3: "RIPEMD-160",
    8: "SHA-256",
    9: "SHA-384",
    10: "SHA-512",
    11: "SHA-224",
    12: "SHA3-256",
    14: "SHA3-512",
  };
  return names[id] ?? `hash algorithm ${id}`;
}

const MAX_QUOTED_CODE_POINTS = 80;

/**
 * Quotes untrusted text for a message: characters that could hide or reorder text
 * (see `isForbiddenCharacter`) and backslashes are escaped, and long text is shortened.
 */
export function quoteText(text: string): string {
  const codePoints = Array.from(text);
  const shown = codePoints.slice(0, MAX_QUOTED_CODE_POINTS).map(escapeCharacter).join("");
  const ellipsis = codePoints.length > MAX_QUOTED_CODE_POINTS ? "…" : "";
  return `"${shown}${ellipsis}"`;
}

function escapeCharacter(character: string): string {
  if (character === "\\") return "\\\\";
  if (character === '"') return '\\"';
  if (!isForbiddenCharacter(character)) return character;
  return `\\u{${(character.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`;
}

// Control (Cc), format (Cf: bidi controls, zero-width characters, BOM, tags), separators,
// private-use and surrogate code points, every space other than U+0020, and the Hangul
// fillers that render as blanks. Any of these can make a user ID look like another one.
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cs}\u115F\u1160\u3164\uFFA0\uFFFE\uFFFF]|(?! )\p{Zs}/u;

export function isForbiddenCharacter(character: string): boolean {
  return FORBIDDEN.test(character);
}

export function hasForbiddenCharacter(text: string): boolean {
  return Array.from(text).some(isForbiddenCharacter);
}

/**
 * A problem as a form shows it beside `field`: the message starts with a capital, as every
 * message on a page does (the rules write them to follow "refused: " in command output).
 */
export function formProblem(field: string, problem: PolicyProblem): PolicyProblem & { field: string } {
  return { field, ...problem, message: problem.message.charAt(0).toUpperCase() + problem.message.slice(1) };
}
