/**
 * FreePBX's own module check, reproduced with GnuPG as the oracle for `keysign module verify`
 * (framework 17, GPG.class.php): `gpg --status-fd 1 --verify module.sig` in an install's home
 * (masters at ultimate ownertrust), checkStatus over the status lines, checkSig's
 * `--check-sigs` revocation regex, then verifyModule's sha256 of every listed file read from
 * the text gpg verified. Nothing of Keysign's own module code is used here.
 *
 * Also a workshop of real keys made by GnuPG: masters (RSA, and an Ed25519 one), an introducer
 * certified with a trust signature, and developers' keys certified, revoked, expired or not.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { runGpg } from "../../src/cli/gpg-process.ts";
import { colonRecords, type GpgHome } from "./gpg.ts";

export const BITS = { GOOD: 1, TAMPERED: 2, INVALID: 4, UNSIGNED: 8, EXPIRED: 32, REVOKED: 64, TRUSTED: 128 } as const;

export interface OracleVerdict {
  status: number;
  details: string[];
}

/** checkStatus: the bits and detail lines FreePBX takes from gpg's status lines. */
export function checkStatus(statusLines: string): { status: number; details: string[]; trusted: boolean; signedBy: string | null } {
  let status = 0;
  const details: string[] = [];
  let trusted = false;
  let signedBy: string | null = null;
  for (const line of statusLines.split("\n")) {
    const [, keyword, ...fields] = line.split(" ");
    if (!line.startsWith("[GNUPG:] ")) continue;
    if (keyword === "VALIDSIG") {
      status |= BITS.GOOD;
      signedBy = fields[0] ?? null;
    } else if (keyword === "BADSIG") {
      status |= BITS.TAMPERED;
      details.push("Bad Signature, Tampered!");
    } else if (keyword === "TRUST_UNDEFINED") {
      status |= BITS.TAMPERED | BITS.INVALID;
      details.push("Signed by unknown, untrusted key.");
    } else if (keyword === "ERRSIG") {
      status |= BITS.INVALID;
      details.push("Unknown Signature");
    } else if (keyword === "EXPKEYSIG") {
      status |= BITS.EXPIRED;
      details.push("Signed by Expired Key");
    } else if (keyword === "TRUST_ULTIMATE" || keyword === "TRUST_FULLY") {
      status |= BITS.TRUSTED;
      trusted = true;
    }
  }
  return { status, details, trusted, signedBy };
}

/** checkSig + verifyModule for the module in `directory`, with `install` as the install's GnuPG home. */
export async function freepbxVerdict(install: GpgHome, directory: string, masterKeyIds: readonly string[], now = new Date()): Promise<OracleVerdict> {
  const sigFile = path.join(directory, "module.sig");
  if (!existsSync(sigFile)) return { status: BITS.UNSIGNED, details: ["unsigned"] };
  const verified = await install.run(["--status-fd", "1", "--verify", sigFile]);
  const checked = checkStatus(verified.stdout.toString("utf8"));
  if (!checked.trusted) {
    let status = checked.status;
    if (checked.signedBy !== null) {
      const listing = (await install.run(["--keyid-format", "long", "--with-colons", "--check-sigs", checked.signedBy])).stdout.toString("utf8");
      if (masterKeyIds.some((id) => new RegExp(`^rev:!::1:${id}`, "m").test(listing))) {
        status = BITS.REVOKED;
        checked.details.unshift("Signed by Revoked Key");
      }
    }
    return { status, details: [`module.sig check failed! ${checked.details[0] ?? ""}`] };
  }
  const text = (await install.ok(["--decrypt", sigFile])).toString("utf8");
  const ini = readIni(text);
  if (Number(ini.config.get("version") ?? "0") > 1 && Number(ini.config.get("expiresafter") ?? "Infinity") * 1000 < now.getTime()) {
    return { status: BITS.REVOKED, details: ["Module signature expired"] };
  }
  let status: number = BITS.GOOD | BITS.TRUSTED;
  const details: string[] = [];
  for (const [file, expected] of ini.hashes) {
    const target = path.join(directory, file);
    const actual = existsSync(target) ? createHash("sha256").update(readFileSync(target)).digest("hex") : null;
    if (actual === expected) continue;
    details.push(`${file} ${actual === null ? "missing" : "altered"}`);
    status = (status | BITS.TAMPERED) & ~BITS.GOOD;
  }
  return { status, details };
}

/** A plain reader of the two sections the check needs; `k = v` and `k=v`, `;` comments. */
function readIni(text: string): { config: Map<string, string>; hashes: Map<string, string> } {
  const sections = { config: new Map<string, string>(), hashes: new Map<string, string>() };
  let current: Map<string, string> | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith(";")) continue;
    if (line === "[config]" || line === "[hashes]") {
      current = line === "[config]" ? sections.config : sections.hashes;
      continue;
    }
    const equals = line.indexOf("=");
    if (current === null || equals < 0) continue;
    current.set(line.slice(0, equals).trim(), line.slice(equals + 1).trim().replace(/^'(.*)'$/, "$1"));
  }
  return sections;
}

/** Writes a module tree: path → content. */
export async function writeModule(directory: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(directory, file)), { recursive: true });
    await writeFile(path.join(directory, file), content);
  }
}

/** The `[hashes]` lines of `files` as devtools writes them (byte order is enough for flat test trees). */
export function hashLines(directory: string, files: readonly string[]): string {
  return [...files]
    .sort()
    .map((file) => `${file} = ${createHash("sha256").update(readFileSync(path.join(directory, file))).digest("hex")}`)
    .join("\n");
}

/** A devtools-style module.sig text; `config` lines go after `version`. */
export function sigText(signedWith: string, hashes: string, { version = 2, config = [] as string[] } = {}): string {
  return [
    ";################################################",
    ";#        FreePBX Module Signature File         #",
    ";################################################",
    "",
    "[config]",
    `version=${version}`,
    ...config,
    "hash=sha256",
    `signedwith=${signedWith}`,
    "signedby='test'",
    "repo=test",
    "[hashes]",
    hashes,
    ";# End",
    "",
  ].join("\n");
}

/** The primary fingerprint of the key with `email`, from `gpg --with-colons`. */
export async function fingerprintOf(home: GpgHome, email: string): Promise<string> {
  const records = colonRecords(await home.ok(["--with-colons", "--list-keys", `<${email}>`]));
  const fpr = records.find((record) => record[0] === "fpr")?.[9];
  if (fpr === undefined) throw new Error(`no key for ${email}`);
  return fpr;
}

/** Revokes `signer`'s certifications on `target` (revsig), answering gpg's questions by keyword. */
export async function revokeCertification(home: GpgHome, signer: string, target: string, reason: string): Promise<void> {
  const outcome = await runGpg(
    { homedir: home.dir, env: { ...process.env, LC_ALL: "C" }, interactive: false },
    ["--pinentry-mode", "loopback", "--passphrase", "", "--local-user", signer, "--edit-key", target],
    {
      "keyedit.prompt": ["revsig", "save"],
      "ask_revoke_sig.one": "y",
      "ask_revoke_sig.okay": "y",
      "ask_revocation_reason.code": "0",
      "ask_revocation_reason.text": [reason, ""],
      "ask_revocation_reason.okay": "y",
      "keyedit.save.okay": "y",
    },
  );
  if (outcome.code !== 0 || outcome.unanswered !== null) throw new Error(`revsig failed (${outcome.unanswered ?? outcome.code}): ${outcome.stderr}`);
}

/** A trust signature by `signer` on `target` (tsign): depth 1, marginal (60), as on FreePBX's mirror key. */
export async function trustSign(home: GpgHome, signer: string, target: string): Promise<void> {
  const outcome = await runGpg(
    { homedir: home.dir, env: { ...process.env, LC_ALL: "C" }, interactive: false },
    ["--pinentry-mode", "loopback", "--passphrase", "", "--local-user", signer, "--edit-key", target],
    {
      "keyedit.prompt": ["tsign", "save"],
      "trustsig_prompt.trust_value": "1",
      "trustsig_prompt.trust_depth": "1",
      "trustsig_prompt.trust_regexp": "",
      "sign_uid.okay": "y",
      "keyedit.sign_all.okay": "y",
      "keyedit.save.okay": "y",
    },
  );
  if (outcome.code !== 0 || outcome.unanswered !== null) throw new Error(`tsign failed (${outcome.unanswered ?? outcome.code}): ${outcome.stderr}`);
}
