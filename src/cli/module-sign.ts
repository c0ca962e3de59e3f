/**
 * `keysign module sign DIR`: writes DIR/module.sig as FreePBX's devtools do (format.ts,
 * manifest.ts), clear-signed with SHA-256 by a key file or by GnuPG (a keyring or a smartcard).
 * Before writing, the result is verified as `module verify` would, and the developer is warned
 * when installs would not trust the key.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { createCleartextMessage, decryptKey, enums, readPrivateKey, sign, type PrivateKey, type PublicKey } from "openpgp";
import { checkCertification } from "../core/module-sig/certification-check.ts";
import { clearSignedModuleSig, moduleSigText, type ModuleType } from "../core/module-sig/format.ts";
import { hashName } from "../core/key-policy/messages.ts";
import { unlistablePathReason } from "../core/module-sig/ini.ts";
import { loadKeys, moduleConfig } from "../core/module-sig/keyring.ts";
import { DEFAULT_EXCLUDES, listModuleFiles, type ModuleListing } from "../core/module-sig/manifest.ts";
import { candidateSigners, checkHash, keyValidity, readClearSigned, signatureVerifies } from "../core/module-sig/signature.ts";
import { EXIT, type CommandIo } from "./exit-codes.ts";
import { explainStatus, runGpg, type GpgEnvironment } from "./gpg-process.ts";
import { localKeyBlobs, masterList, readFeed, sha256Files, walkModule } from "./module-files.ts";
import { canPrompt, promptHidden, readPassphraseFile } from "./prompt.ts";
import { CommandError, parseOptions, runCommand, usageError } from "./signer-errors.ts";
import { writeFileAtomically } from "./signer-home.ts";

export const MODULE_SIGN_USAGE =
  "keysign module sign DIR (--key FILE | --gpg --local-user FPR [--gpg-home DIR]) [--passphrase-file FILE] [--repo NAME] [--type public|local] [--exclude PATH]... [--master FPR]... [--keyring FILE]... [--feed URL|FILE --publication-key FILE]";

const OPTIONS = {
  key: { type: "string" },
  gpg: { type: "boolean" },
  "local-user": { type: "string" },
  "gpg-home": { type: "string" },
  "passphrase-file": { type: "string" },
  repo: { type: "string" },
  type: { type: "string" },
  exclude: { type: "string", multiple: true },
  master: { type: "string", multiple: true },
  keyring: { type: "string", multiple: true },
  feed: { type: "string" },
  "publication-key": { type: "string" },
} as const;

type Values = ReturnType<typeof parseOptions<typeof OPTIONS>>["values"];

interface Signer {
  publicKey: PublicKey;
  signText(text: string): Promise<string>;
}

const keyError = (message: string) => new CommandError(EXIT.signingKey, message);

export function moduleSign(args: string[], io: CommandIo): Promise<number> {
  return runCommand("module sign", MODULE_SIGN_USAGE, io, async () => {
    const { values, positionals } = parseOptions(args, OPTIONS, true);
    const [directory, ...extra] = positionals;
    if (directory === undefined || extra.length > 0) throw usageError("give exactly one module directory");
    const type = moduleType(values.type);
    if ((values.key === undefined) === (values.gpg !== true)) throw usageError("sign with a key file (--key FILE) or with GnuPG (--gpg --local-user FPR), one of the two");
    const masters = masterList(values.master ?? []);
    const now = new Date();
    const feed = values.feed === undefined ? null : await readFeed(values.feed, values["publication-key"], now);
    const listing = await listTree(directory, values.exclude ?? [], io);
    const hashes = await hashListed(directory, listing);
    const signer = values.gpg ? await gpgSigner(values, io) : await keyFileSigner(values, io);
    // The signing key merged with its copies in --keyring, which may carry the master's certification.
    const material = (await loadKeys([{ source: "the signing key", bytes: signer.publicKey.write() }, ...(await localKeyBlobs(undefined, values.keyring ?? []))])).keys;
    const merged = material.find((key) => key.getFingerprint() === signer.publicKey.getFingerprint()) ?? signer.publicKey;
    const check = await checkCertification(merged, material, masters, feed, now);
    const text = moduleSigText({ signedWith: signer.publicKey.getFingerprint().toUpperCase(), repo: values.repo ?? "", type, hashes });
    const signed = await signer.signText(text);
    await checkSigned(signed, text, signer.publicKey, now);
    const output = path.join(directory, "module.sig");
    await writeFileAtomically(output, new TextEncoder().encode(signed), 0o644);
    io.stdout.write(`Wrote ${output}: ${hashes.length} files listed, signed by ${signer.publicKey.getFingerprint().toUpperCase()} with SHA-256\nCertification checked against ${check.basis}\n`);
    if (check.warning) io.stderr.write(`warning: ${check.warning}\n`);
    return EXIT.ok;
  });
}

function moduleType(given: string | undefined): ModuleType {
  if (given === undefined || given === "public" || given === "local") return given ?? "public";
  throw usageError(`--type is public or local, not ${JSON.stringify(given)}`);
}

/** The files to list, after saying what is left out and refusing what cannot be listed or read. */
async function listTree(directory: string, excludes: readonly string[], io: CommandIo): Promise<ModuleListing> {
  const walked = await walkModule(directory).catch((error: unknown) => {
    if (error instanceof CommandError) throw error;
    throw usageError(`cannot read the module directory ${directory}`);
  });
  if (walked.unreadable.length > 0) throw new CommandError(EXIT.moduleRefused, `cannot read ${walked.unreadable.join(", ")} in ${directory}; nothing was signed. Fix the permissions and sign again`);
  const listing = listModuleFiles(walked.files, [...DEFAULT_EXCLUDES, ...excludes.map((exclude) => exclude.replace(/^\.\//, ""))]);
  const unlistable = listing.listed.map((file) => ({ file, why: unlistablePathReason(file) })).filter((entry) => entry.why !== null);
  if (unlistable.length > 0) {
    throw new CommandError(EXIT.moduleRefused, `these paths cannot be listed in a module.sig, so FreePBX could not check them; rename them, or leave them out with --exclude. Nothing was signed.\n${unlistable.map((entry) => `  ${entry.file}: ${entry.why}`).join("\n")}`);
  }
  const byRule = new Map<string, number>();
  for (const left of listing.left) {
    const rule = left.reason === "excluded" ? `${left.rule} (${DEFAULT_EXCLUDES.includes(left.rule ?? "") ? "made by FreePBX at run time" : "--exclude"})` : left.reason === "dot-name" ? "names starting with a dot" : "module.sig itself";
    byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
  }
  for (const [rule, count] of byRule) io.stdout.write(`Left out: ${count} file${count === 1 ? "" : "s"}: ${rule}\n`);
  return listing;
}

async function hashListed(directory: string, listing: ModuleListing): Promise<Array<{ path: string; sha256: string }>> {
  const digests = await sha256Files(listing.listed.map((file) => path.join(directory, file)));
  const unreadable = listing.listed.filter((_, index) => digests[index] === null);
  if (unreadable.length > 0) throw new CommandError(EXIT.moduleRefused, `cannot read ${unreadable.slice(0, 10).join(", ")}${unreadable.length > 10 ? ` and ${unreadable.length - 10} more` : ""}; nothing was signed. Fix the permissions (or --exclude them) and sign again`);
  return listing.listed.map((file, index) => ({ path: file, sha256: digests[index] ?? "" }));
}

async function keyFileSigner(values: Values, io: CommandIo): Promise<Signer> {
  const file = values.key ?? "";
  const armoredKey = await readFile(file, "utf8").catch(() => {
    throw usageError(`cannot read the key file ${file}`);
  });
  const key = await readPrivateKey({ armoredKey, config: moduleConfig() }).catch(() => null);
  if (key === null) throw keyError(`${file} is not an armored OpenPGP secret key`);
  const unlocked = key.isDecrypted() ? key : await unlock(key, values, io);
  return {
    publicKey: key.toPublic(),
    signText: async (text) => {
      // The trailing line break belongs to the armor, as gpg --clearsign writes it.
      const message = await createCleartextMessage({ text: text.replace(/\n$/, "") });
      const armored = await sign({ message, signingKeys: unlocked, config: { ...moduleConfig(), preferredHashAlgorithm: enums.hash.sha256 } }).catch(() => {
        throw keyError(`the key ${key.getFingerprint().toUpperCase()} cannot sign now: it has no valid signing key (expired, revoked or without the sign flag)`);
      });
      // openpgp.js writes the text with CRLF; module.sig files have LF throughout.
      const read = await readClearSigned(new TextEncoder().encode(armored));
      if (!read.ok) throw keyError(`the signature made is not usable: ${read.reason}`);
      return clearSignedModuleSig(text, hashName(read.signature.layout.hashAlgorithm).replace("-", ""), armored.slice(armored.indexOf("-----BEGIN PGP SIGNATURE-----")));
    },
  };
}

async function unlock(key: PrivateKey, values: Values, io: CommandIo): Promise<PrivateKey> {
  const passphraseFile = values["passphrase-file"];
  if (passphraseFile === undefined && !canPrompt(io)) throw usageError("the key is passphrase-protected and there is no terminal to ask on; use --passphrase-file FILE");
  const passphrase = passphraseFile !== undefined ? await readPassphraseFile(passphraseFile) : await promptHidden(`Passphrase for ${key.getFingerprint().toUpperCase().slice(-16)}: `, io);
  return decryptKey({ privateKey: key, passphrase, config: moduleConfig() }).catch(() => {
    throw keyError("the passphrase is wrong; nothing was signed");
  });
}

async function gpgSigner(values: Values, io: CommandIo): Promise<Signer> {
  const localUser = values["local-user"]?.replace(/\s+/g, "").toUpperCase();
  if (localUser === undefined || !/^[0-9A-F]{40}$/.test(localUser)) throw usageError("--gpg needs --local-user FPR, the full fingerprint (40 hex digits) of your key's primary key; GnuPG picks its signing subkey");
  const passphraseFile = values["passphrase-file"] ? path.resolve(values["passphrase-file"]) : null;
  if (passphraseFile !== null) await readPassphraseFile(passphraseFile);
  const environment: GpgEnvironment = { homedir: values["gpg-home"] ? path.resolve(values["gpg-home"]) : null, env: io.env, interactive: canPrompt(io) };
  const exported = await runGpg(environment, ["--export", localUser]);
  const [publicKey] = exported.code === 0 ? (await loadKeys([{ source: "gpg", bytes: new Uint8Array(exported.stdout) }])).keys : [];
  if (publicKey === undefined || publicKey.getFingerprint().toUpperCase() !== localUser) throw keyError(`GnuPG has no key ${localUser}${environment.homedir ? ` in ${environment.homedir}` : ""}`);
  const loopback = passphraseFile === null ? [] : ["--pinentry-mode", "loopback", "--passphrase-file", passphraseFile];
  return {
    publicKey,
    signText: async (text) => {
      const outcome = await runGpg(environment, [...loopback, "--local-user", localUser, "--digest-algo", "SHA256", "--armor", "--clearsign"], undefined, new TextEncoder().encode(text));
      if (outcome.code !== 0) throw keyError(`GnuPG could not sign with ${localUser}: ${explainStatus(outcome.status) ?? `it exited with code ${outcome.code}`}`);
      return outcome.stdout.toString("utf8");
    },
  };
}

/** What was made must read back as a good, strong signature by this key over exactly this text. */
async function checkSigned(signed: string, text: string, publicKey: PublicKey, now: Date): Promise<void> {
  const read = await readClearSigned(new TextEncoder().encode(signed));
  if (!read.ok) throw keyError(`the signature made is not usable: ${read.reason}`);
  const [signer] = candidateSigners(read.signature, [publicKey]);
  if (signer === undefined || read.text !== text.replace(/\n$/, "") || !(await signatureVerifies(read.signature.packet, signer, read.text))) {
    throw keyError("the signature made does not verify over the module.sig text; nothing was written");
  }
  const hash = checkHash(read.signature, "", []);
  if (!hash.ok) throw keyError(`the signature was made with a weak hash: ${hash.reason}`);
  const validity = await keyValidity(signer, now);
  if (validity.expired || validity.revoked !== null) throw keyError(`the key that signed is ${validity.expired ? "expired" : "revoked"}; installs would refuse the module. Nothing was written`);
}
