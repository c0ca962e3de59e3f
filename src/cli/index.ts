/**
 * The `keysign` command. Each command lives in its own file and is loaded only when asked
 * for, so the offline signer's commands never load the database layer.
 */
import { existsSync } from "node:fs";
import { EXIT, type CommandIo } from "./exit-codes.ts";

export const USAGE = `usage: keysign <command> [options]

offline signer (needs no network and no database):
  init --queue-key FILE (--master-key FILE | --gpg --master FINGERPRINT [--gpg-home DIR]) [--home DIR] [--force]
      Pins the portal's queue public key (as downloaded from the portal's admin settings) and
      the master key: an armored secret key file (--master-key; only its public part is read
      now) or a key in GnuPG (--gpg; its keyring or smartcard). The master's primary key must
      be able to certify and sign. Pins live in --home, else $KEYSIGN_HOME, else ~/.keysign
      (mode 0700, pins.json 0600). Existing pins are replaced only with --force.

  inspect FILE [--batch BATCH] [--home DIR]
      Shows a batch or result file: its SHA-256 (compare it with the portal's page), its
      items, and whether its signature is good (a batch by the pinned queue key, a result by
      the pinned master key). With --batch, a result goes through the portal's own import
      check and every item gets the portal's verdict (exit 6 if the portal would refuse it).
      Without pins the contents are shown marked NOT CHECKED (exit 8).

  sign BATCH [--out RESULT] [--yes] [--passphrase-file FILE] [--gpg [--gpg-home DIR]] [--home DIR] [--force]
      Checks the batch (signature by the pinned queue key, pinned master, not expired, clock),
      re-checks every item's key, shows each item and asks y/n (--yes approves all; answers
      may be piped, one line each; "n" asks for a reason). Items the signer refuses by
      itself are declined with the reason. Certifies with the master key, seals a
      revocation for each certification, and writes RESULT (default: BATCH's name with
      .result.json, beside it); an existing result is replaced only with --force.
      The passphrase comes from --passphrase-file (first line) or is typed at the terminal
      with echo off; with --gpg, gpg-agent's pinentry asks unless --passphrase-file is given.
      Never on the command line or in the environment.

FreePBX installs (needs only Node and gpg; run it as the user FreePBX runs gpg as):
  freepbx sync --from URL --publication-key FILE [--gpg-home DIR] [--state FILE]
      Fetches the portal's signed status feed from URL (the portal or a static mirror of
      it; plain http:// is fine, the feed is signed), checks it against the pinned
      publication key (FILE: the portal's publication-key.asc, fingerprint compared once),
      refuses a feed that is unsigned, damaged, expired or older than one accepted before,
      then fetches every key it lists and imports it with gpg, certifications and
      revocations included. --gpg-home defaults to GnuPG's own ($GNUPGHOME, else
      ~/.gnupg); the last accepted sequence per URL is kept in --state (default:
      keysign-freepbx-sync.json in that home). Prints one line; meant for cron.

FreePBX modules (need only Node, and gpg for --gpg; see docs/modules.md):
  module sign DIR (--key FILE [--passphrase-file FILE] | --gpg --local-user FPR [--gpg-home DIR] [--passphrase-file FILE])
              [--repo NAME] [--type public|local] [--exclude PATH]... [--master FPR]... [--keyring FILE]...
              [--feed URL|FILE --publication-key FILE]
      Writes DIR/module.sig in FreePBX devtools' format, clear-signed with SHA-256: the SHA-256
      of every file in devtools' order, leaving out dot-names, module.sig and what FreePBX
      makes at run time (assets/less/cache/; --exclude adds a file, or a directory ending in
      "/"), and says what it left out. Refuses a tree with files it cannot read or paths a
      module.sig cannot list. Warns when the key has no valid certification by a master key
      (FreePBX's two and each --master; checked against --feed when given, else the key's own
      certifications, verified with the masters' keys from --keyring when given), because
      installs would then call the module "signed by an invalid key". The passphrase comes
      from --passphrase-file (first line) or is typed with echo off; never on the command line.

  module verify DIR... (--keys DIR | --keyring FILE | --portal URL)... [--master FPR]...
              [--feed URL|FILE --publication-key FILE] [--framework-root WEBROOT] [--json]
      For each module: Keysign's verdict (trusted, tampered, untrusted, revoked, expired,
      unsigned, invalid, refused, stale) with one reason, and the status bits and detail
      lines FreePBX 17 would show. Keys come from an install's admin/libraries/BMO
      (--keys), keyring files, or the portal (HKP, by the signer's key ID). Masters are
      FreePBX's two plus each --master. --feed checks revocations in the portal's signed
      status feed (FILE needs FILE.sig beside it). Files present but not listed are shown
      apart, and never change the verdict. --framework-root reads framework's
      amp_conf/htdocs/X at WEBROOT/X, as FreePBX's installer puts it.

portal administration (uses DATABASE_URL / DATA_DIR like the portal; needs no network):
  staff create --email ADDRESS --role ROLE [--role ROLE]...
      Prints a one-time link, valid 24 hours, that creates a staff account for ADDRESS
      with the given roles (reviewer, signing_officer, admin). The person opening it
      chooses a password and sets up an authenticator app.

  audit verify
      Checks the audit log's hash chain and names the first event whose link is broken
      (an edited or deleted row).

  publish export DIR
      Writes everything the portal publishes as plain files for any web server or CDN:
      every certified key by fingerprint, key ID and consented address (the answers to HKP
      and VKS lookups), keyring.asc, the signed status feed and the key status pages. DIR
      becomes a link to a complete copy beside it, swapped at once, so a server reading DIR
      never sees half an export (the copy before stays until the next export, for readers
      still in it). A DIR that exists and is not such a link is refused (exit 4). With
      PUBLISH_DIR set, the portal rewrites that directory by itself after every change.
      See docs/publication.md.

  help
      Prints this text.

exit codes:
  0  done
  1  unexpected failure
  2  wrong usage or configuration (the message says what)
  3  the database is missing or not migrated (start the portal once, or run "npm run db:migrate")
  4  refused because it already exists: a staff account with this address; the signer's pins
     or the result file (without --force); an export DIR that is not a keysign export
  5  the audit log's hash chain is broken
  6  a file was refused: a batch or result whose signature, format, expiry, master or time is
     wrong (nothing was signed), a result the portal would refuse (inspect --batch), an
     unusable queue key file, or a status feed, published key, publication key file or
     sync state file that freepbx sync refused (nothing was imported), or a status feed or
     publication key file module verify or sign refused
  7  the result file was written, but every item in it is declined
  8  the signer is not initialised: no pins (run "keysign init"); inspect showed the file
     NOT CHECKED
  9  the master key cannot be used: wrong passphrase, cannot certify or sign, secret key or
     card not available, or GnuPG failed; nothing was written
  10 stopped before the end (input ended, interrupted); nothing was written
  11 freepbx sync could not get the feed or a key from URL (unreachable, an HTTP error,
     too slow or too large); nothing was imported; module verify or sign could not get
     the feed or a key from --portal or --feed
  12 module verify: at least one module is not trusted and intact (each verdict says why)
  13 module sign: the tree cannot be signed (a file cannot be read, or a path cannot be
     listed in a module.sig); nothing was written
  14 module sign: the signing key cannot be used (wrong passphrase, expired, revoked, no
     signing capability, or GnuPG failed); nothing was written
`;

type Command = (args: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  init: async () => (await import("./keysign-init.ts")).keysignInit,
  inspect: async () => (await import("./keysign-inspect.ts")).keysignInspect,
  sign: async () => (await import("./keysign-sign.ts")).keysignSign,
  "staff create": async () => (await import("./staff-create.ts")).staffCreate,
  "audit verify": async () => (await import("./audit-verify.ts")).auditVerify,
  "freepbx sync": async () => (await import("./freepbx-sync.ts")).freepbxSync,
  "publish export": async () => (await import("./publish-export.ts")).publishExport,
  "module sign": async () => (await import("./module-sign.ts")).moduleSign,
  "module verify": async () => (await import("./module-verify.ts")).moduleVerify,
};

export async function run(argv: string[], io: CommandIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || ["help", "--help", "-h"].includes(first)) {
    (first === undefined ? io.stderr : io.stdout).write(USAGE);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  // Two-word commands ("staff create") first, then one-word ones ("sign").
  const twoWords = COMMANDS[`${first} ${second ?? ""}`];
  const oneWord = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (twoWords) return (await twoWords())(argv.slice(2), io);
  if (oneWord) return (await oneWord())(argv.slice(1), io);
  io.stderr.write(`keysign: unknown command "${[first, second].filter(Boolean).join(" ")}"\n\n${USAGE}`);
  return EXIT.usage;
}

// A .env file beside the project is optional, as for the portal; real environment variables win.
if (existsSync(".env")) process.loadEnvFile(".env");
run(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = EXIT.failure;
  },
);
