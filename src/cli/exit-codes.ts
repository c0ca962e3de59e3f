/** Exit codes of the `keysign` command, as its --help lists them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  databaseNotReady: 3,
  /** Refused because it already exists: a staff account, the signer's pins, a result file. */
  refused: 4,
  auditBroken: 5,
  /** A file was refused: transfer file signature, format, expiry, master or clock; a key file. */
  fileRefused: 6,
  /** The result file was written, but every item in it is declined. */
  nothingSigned: 7,
  /** The signer has no pins yet (`keysign init`), so no signature could be checked. */
  notInitialised: 8,
  /** The master key cannot be used: wrong passphrase, missing capability, unavailable secret key, GnuPG failure. */
  masterKey: 9,
  /** The officer stopped (no answer, interrupted) before the result was written; nothing was written. */
  aborted: 10,
  /** The source (portal or mirror) could not be reached, answered an error, was too slow or sent too much; nothing was imported. */
  source: 11,
  /** module verify: at least one module is not trusted and intact (its verdict says why). */
  moduleNotTrusted: 12,
  /** module sign: the tree cannot be signed (an unreadable file, a path a module.sig cannot list); nothing was written. */
  moduleRefused: 13,
  /** module sign: the signing key cannot be used (wrong passphrase, expired, revoked, cannot sign, GnuPG failed); nothing was written. */
  signingKey: 14,
} as const;

/** What a command may touch of its process, so tests can run it in-process too. */
export interface CommandIo {
  env: Record<string, string | undefined>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  /** The officer's answers and passphrase prompt; absent when the command runs without input. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
}
