/**
 * Modules as developers ship them, made in memory: a .tgz written by a small tar writer (so
 * tests can make archives no honest tool would, such as `..` paths and links out), and a
 * module.sig over the files' SHA-256, clear-signed as `keysign module sign` signs it.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import * as openpgp from "openpgp";
import { clearSignedModuleSig, moduleSigText } from "../../src/core/module-sig/format.ts";
import { compareDevtoolsOrder } from "../../src/core/module-sig/manifest.ts";

export interface TarEntry {
  name: string;
  /** "0" file (default), "5" directory, "2" symbolic link, "1" hard link, "3" character device. */
  type?: string;
  content?: Uint8Array | string;
  link?: string;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, "0")}\0`;
}

function header(entry: TarEntry, size: number): Buffer {
  const block = Buffer.alloc(512);
  block.write(entry.name, 0, 100, "utf8");
  block.write(octal(entry.type === "5" ? 0o755 : 0o644, 8), 100, "latin1");
  block.write(octal(0, 8), 108, "latin1");
  block.write(octal(0, 8), 116, "latin1");
  block.write(octal(size, 12), 124, "latin1");
  block.write(octal(1_764_460_800, 12), 136, "latin1");
  block.write(entry.type ?? "0", 156, "latin1");
  block.write(entry.link ?? "", 157, 100, "utf8");
  block.write("ustar\u000000", 257, "latin1");
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

/** A tar stream with its end marker. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const content = Buffer.from(entry.content ?? "");
    blocks.push(header(entry, content.length), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

export function tgz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tar(entries));
}

/** A module as `modulename/…` with its directory entry, as FreePBX packages hold it. */
export function moduleTgz(module: string, files: Readonly<Record<string, string>>, extra: readonly TarEntry[] = []): Buffer {
  return tgz([{ name: `${module}/`, type: "5" }, ...Object.entries(files).map(([path, content]) => ({ name: `${module}/${path}`, content })), ...extra]);
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** module.sig listing `files` (path → content), signed at `date` with the armored secret key. */
export async function signModule(privateArmored: string, files: Readonly<Record<string, string>>, date: Date): Promise<Buffer> {
  const key = await openpgp.readPrivateKey({ armoredKey: privateArmored });
  const paths = Object.keys(files).sort(compareDevtoolsOrder);
  const text = moduleSigText({ signedWith: key.getFingerprint().toUpperCase(), repo: "local", type: "public", hashes: paths.map((path) => ({ path, sha256: sha256(files[path] ?? "") })) });
  const message = await openpgp.createCleartextMessage({ text: text.replace(/\n$/, "") });
  const armored = await openpgp.sign({ message, signingKeys: key, date, config: { preferredHashAlgorithm: openpgp.enums.hash.sha256 } });
  // openpgp.js may pick a stronger hash than asked for by the key's preferences: keep the one it names.
  const hash = /^Hash: (\S+)$/m.exec(armored)?.[1] ?? "SHA256";
  return Buffer.from(clearSignedModuleSig(text, hash, armored.slice(armored.indexOf("-----BEGIN PGP SIGNATURE-----"))));
}
