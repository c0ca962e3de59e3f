/**
 * A module's `.tgz`, as an outsider uploads it to be checked: gunzipped as a stream and read by
 * a small tar reader, every regular file hashed (SHA-256) as it passes, nothing written to disk.
 * Bounded before and while it is read: the compressed size, the number of entries, the total
 * unpacked size and the ratio of unpacked to compressed bytes, the length of names; absolute
 * names, `..`, links that leave the module and special files are refused with the reason.
 *
 * FreePBX packages hold the module in one top-level directory (`modulename/…`): that directory
 * is stripped, so the paths match module.sig's `[hashes]`. A symbolic or hard link inside the
 * module counts as the file it points to, as FreePBX's hash of the installed file would.
 */
import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

const MIB = 1024 * 1024;

export interface ArchiveLimits {
  maxCompressedBytes: number;
  maxEntries: number;
  maxTotalBytes: number;
  /** Unpacked bytes per compressed byte, above `ratioFloorBytes`. */
  maxRatio: number;
  /** Small archives compress their tar padding very well: below this many unpacked bytes the ratio is not checked. */
  ratioFloorBytes: number;
}

export const ARCHIVE_LIMITS: ArchiveLimits = { maxCompressedBytes: 50 * MIB, maxEntries: 20_000, maxTotalBytes: 500 * MIB, maxRatio: 100, ratioFloorBytes: 1 * MIB };

/** Longest name (GNU long name or pax path) and longest pax header accepted. */
const MAX_NAME_BYTES = 4096;
const MAX_PAX_BYTES = 64 * 1024;
/** Links followed one after another before giving up (a loop or a long chain). */
const MAX_LINK_HOPS = 8;
const BLOCK = 512;

export type ArchiveRefusal = "too_large" | "not_gzip" | "damaged" | "truncated" | "entries" | "total" | "ratio" | "path" | "link" | "type" | "layout";

export interface ModuleArchive {
  /** The top-level directory's name: the module's, as FreePBX packages it. */
  module: string;
  /** Every regular file (and link inside the module to one) by its path below the top directory, with its SHA-256. */
  files: Map<string, string>;
  /** Links that lead to no regular file of the archive (a directory, or nothing): not hashed. */
  unresolvedLinks: string[];
  entries: number;
  unpackedBytes: number;
}

export type ArchiveRead = { ok: true; archive: ModuleArchive } | { ok: false; refusal: ArchiveRefusal; reason: string };

class Refused extends Error {
  constructor(
    readonly refusal: ArchiveRefusal,
    reason: string,
  ) {
    super(reason);
  }
}

const mib = (bytes: number) => `${Math.round((bytes / MIB) * 10) / 10} MiB`;

/** Reads and hashes the archive within `limits`; the reason of a refusal says what to change. */
export async function readModuleArchive(bytes: Uint8Array, limits: ArchiveLimits = ARCHIVE_LIMITS): Promise<ArchiveRead> {
  try {
    if (bytes.length > limits.maxCompressedBytes) throw new Refused("too_large", `The archive is larger than ${mib(limits.maxCompressedBytes)}.`);
    if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw new Refused("not_gzip", "The archive is not a gzip-compressed tar file (.tgz or .tar.gz), as FreePBX modules are packaged.");
    return { ok: true, archive: await unpack(bytes, limits) };
  } catch (error) {
    if (error instanceof Refused) return { ok: false, refusal: error.refusal, reason: error.message };
    throw error;
  }
}

async function unpack(bytes: Uint8Array, limits: ArchiveLimits): Promise<ModuleArchive> {
  const byRatio = Math.max(limits.ratioFloorBytes, limits.maxRatio * bytes.length);
  const allowed = Math.min(limits.maxTotalBytes, byRatio);
  const source = Readable.from(slices(bytes, 64 * 1024));
  const gunzip = createGunzip();
  source.on("error", () => gunzip.destroy());
  source.pipe(gunzip);
  const reader = new TarReader(limits.maxEntries);
  let unpacked = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      unpacked += chunk.length;
      if (unpacked > allowed) throw tooMuch(allowed === byRatio, limits, bytes.length);
      reader.push(chunk);
    }
  } catch (error) {
    throw error instanceof Refused ? error : gunzipFailure(error);
  } finally {
    source.unpipe(gunzip);
    source.destroy();
    gunzip.destroy();
  }
  return { ...reader.finish(), unpackedBytes: unpacked };
}

function* slices(bytes: Uint8Array, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += size) yield Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(size, bytes.length - offset));
}

function tooMuch(byRatio: boolean, limits: ArchiveLimits, compressed: number): Refused {
  if (byRatio) {
    return new Refused("ratio", `The archive unpacks to more than ${limits.maxRatio} times its ${mib(compressed)}: a module does not compress that well, so it was not unpacked further.`);
  }
  return new Refused("total", `The archive unpacks to more than ${mib(limits.maxTotalBytes)}, more than any module holds.`);
}

/** zlib's stable codes: a stream that ends early, or bytes that are not deflate data. */
function gunzipFailure(error: unknown): Refused {
  const code = error instanceof Error && "code" in error ? error.code : null;
  if (code === "Z_BUF_ERROR") return new Refused("truncated", "The archive ends early: it was cut off while being copied or uploaded. Download or build the .tgz again.");
  return new Refused("damaged", "The archive is damaged: its gzip data cannot be unpacked. Download or build the .tgz again.");
}

type Sink = { kind: "hash"; path: string; hash: Hash } | { kind: "collect"; type: "pax" | "name" | "link"; chunks: Buffer[] } | { kind: "skip" };

interface Pending {
  pax: Map<string, string>;
  longName: string | null;
  longLink: string | null;
}

/** A streaming ustar/GNU/pax reader: headers, data handed to a sink, padding skipped. */
class TarReader {
  private carry: Buffer = Buffer.alloc(0);
  private sink: Sink | null = null;
  private remaining = 0;
  private padding = 0;
  private zeroBlocks = 0;
  private ended = false;
  private entries = 0;
  private headers = 0;
  private module: string | null = null;
  private pending: Pending = { pax: new Map(), longName: null, longLink: null };
  private readonly files = new Map<string, string>();
  private readonly links = new Map<string, string>();

  constructor(private readonly maxEntries: number) {}

  push(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.ended) {
      if (this.sink !== null) {
        const take = Math.min(this.remaining, chunk.length - offset);
        this.feed(chunk.subarray(offset, offset + take));
        offset += take;
        this.remaining -= take;
        if (this.remaining === 0) this.closeSink();
      } else if (this.padding > 0) {
        const take = Math.min(this.padding, chunk.length - offset);
        offset += take;
        this.padding -= take;
      } else {
        const take = Math.min(BLOCK - this.carry.length, chunk.length - offset);
        const block = Buffer.concat([this.carry, chunk.subarray(offset, offset + take)]);
        offset += take;
        if (block.length < BLOCK) this.carry = block;
        else {
          this.carry = Buffer.alloc(0);
          this.header(block);
        }
      }
    }
  }

  finish(): Omit<ModuleArchive, "unpackedBytes"> {
    if (!this.ended && (this.sink !== null || this.carry.length > 0 || this.zeroBlocks === 0)) {
      throw new Refused("truncated", "The archive ends early: its last file is cut off or its end marker is missing. Download or build the .tgz again.");
    }
    if (this.module === null) throw new Refused("layout", "The archive holds no files.");
    return { module: this.module, ...this.resolveLinks(), entries: this.entries };
  }

  private feed(data: Buffer): void {
    if (this.sink?.kind === "hash") this.sink.hash.update(data);
    else if (this.sink?.kind === "collect") this.sink.chunks.push(data);
  }

  private closeSink(): void {
    const sink = this.sink;
    this.sink = null;
    if (sink?.kind === "hash") this.files.set(sink.path, sink.hash.digest("hex"));
    if (sink?.kind !== "collect") return;
    const text = Buffer.concat(sink.chunks).toString("utf8");
    if (sink.type === "pax") this.pending.pax = parsePax(text);
    else if (sink.type === "name") this.pending.longName = cString(text);
    else this.pending.longLink = cString(text);
  }

  private header(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      this.zeroBlocks += 1;
      this.ended = this.zeroBlocks >= 2;
      return;
    }
    this.zeroBlocks = 0;
    if (!checksumMatches(block)) throw new Refused("damaged", `The archive is damaged: entry ${this.entries + 1} is not a valid tar header. Download or build the .tgz again.`);
    this.headers += 1;
    if (this.headers > 3 * this.maxEntries) throw this.tooManyEntries();
    const type = String.fromCharCode(block[156] ?? 0);
    const size = this.sizeOf(block);
    if (type === "x" || type === "g" || type === "L" || type === "K") return this.metadata(type, size);
    this.entries += 1;
    if (this.entries > this.maxEntries) throw this.tooManyEntries();
    const pending = this.pending;
    this.pending = { pax: new Map(), longName: null, longLink: null };
    const name = pending.pax.get("path") ?? pending.longName ?? headerName(block);
    const linkName = pending.pax.get("linkpath") ?? pending.longLink ?? cString(block.toString("utf8", 157, 257));
    this.entry(type, this.place(name, type === "5"), linkName, pending.pax.has("size") ? paxSize(pending.pax) : size);
  }

  private entry(type: string, path: string | null, linkName: string, size: number): void {
    if (type === "0" || type === "\0" || type === "7") {
      if (path === null) throw new Refused("layout", "The archive holds a file beside the module's directory; FreePBX packages hold everything in one top-level directory (modulename/…).");
      return this.data(size, { kind: "hash", path, hash: createHash("sha256") });
    }
    if (type === "5") return this.data(size, { kind: "skip" });
    if (type !== "1" && type !== "2") throw new Refused("type", `The archive holds ${path ?? "an entry"}, which is a device, FIFO or other special file; a module holds only files, directories and links.`);
    // The module's directory itself as a link would send every file of the module elsewhere when unpacked.
    if (path === null) throw new Refused("link", `The archive's top-level directory ${this.module ?? ""} is a link; it must be the module's own directory.`);
    this.links.set(path, type === "2" ? symlinkTarget(path, linkName) : this.hardLinkTarget(linkName));
    this.data(size, { kind: "skip" });
  }

  private metadata(type: string, size: number): void {
    const limit = type === "x" || type === "g" ? MAX_PAX_BYTES : MAX_NAME_BYTES;
    if (size > limit) throw new Refused("path", `The archive holds a file name or extended header longer than ${limit} bytes.`);
    this.data(size, type === "g" ? { kind: "skip" } : { kind: "collect", type: type === "x" ? "pax" : type === "L" ? "name" : "link", chunks: [] });
  }

  private data(size: number, sink: Sink): void {
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.remaining = size;
    this.sink = sink;
    if (size === 0) this.closeSink();
  }

  private sizeOf(block: Buffer): number {
    // Base-256 sizes are for files over 8 GiB: far past any limit here.
    if (((block[124] ?? 0) & 0x80) !== 0) throw new Refused("total", "The archive holds a file larger than 8 GiB.");
    const size = parseOctal(block.toString("latin1", 124, 136));
    if (size === null) throw new Refused("damaged", `The archive is damaged: entry ${this.entries + 1} has no readable size. Download or build the .tgz again.`);
    return size;
  }

  private tooManyEntries(): Refused {
    return new Refused("entries", `The archive holds more than ${this.maxEntries.toLocaleString("en")} entries, more than any module has.`);
  }

  /** The entry's path below the module's directory; null for the directory itself. */
  private place(raw: string, directory: boolean): string | null {
    const names = safeNames(raw);
    const [top, ...rest] = names;
    if (top === undefined) {
      if (directory) return null;
      throw new Refused("path", `The archive holds an entry with an empty name.`);
    }
    this.module ??= top;
    if (top !== this.module) {
      throw new Refused("layout", `The archive holds ${raw}, outside the module's directory ${this.module}/; FreePBX packages hold everything in one top-level directory (modulename/…).`);
    }
    return rest.length === 0 ? null : rest.join("/");
  }

  /** A hard link names another member of the archive, from the archive's root. */
  private hardLinkTarget(linkName: string): string {
    const target = this.place(linkName, false);
    if (target === null) throw new Refused("link", `The archive holds a hard link to ${linkName}, which is not a file of the module.`);
    return target;
  }

  /** Links count as the regular file they lead to, within the module; any other link is left unhashed and named. */
  private resolveLinks(): { files: Map<string, string>; unresolvedLinks: string[] } {
    const unresolved: string[] = [];
    for (const path of this.links.keys()) {
      let target = this.links.get(path);
      for (let hop = 0; hop < MAX_LINK_HOPS && target !== undefined && this.links.has(target); hop++) target = this.links.get(target);
      const hash = target === undefined ? undefined : this.files.get(target);
      if (hash === undefined) unresolved.push(path);
      else this.files.set(path, hash);
    }
    return { files: this.files, unresolvedLinks: unresolved.sort() };
  }
}

/** The names of a member's path: no absolute path, no `..`, `.` and empty names dropped. */
function safeNames(raw: string): string[] {
  if (raw.startsWith("/")) throw new Refused("path", `The archive holds ${raw}, an absolute path; a module's files are named relative to its directory.`);
  const names = raw.split("/").filter((name) => name !== "" && name !== ".");
  if (names.includes("..")) throw new Refused("path", `The archive holds ${raw}, whose ".." leads out of the module's directory.`);
  if (Buffer.byteLength(raw) > MAX_NAME_BYTES) throw new Refused("path", `The archive holds a file name longer than ${MAX_NAME_BYTES} bytes.`);
  return names;
}

/** Where a symbolic link at `path` (below the module's directory) leads; refused when that is outside the module. */
function symlinkTarget(path: string, target: string): string {
  const outside = () => new Refused("link", `The archive holds a link ${path} that points to ${target}, outside the module; FreePBX would read a file that is not part of the module.`);
  if (target.startsWith("/")) throw outside();
  const names = path.split("/").slice(0, -1);
  for (const name of target.split("/")) {
    if (name === "" || name === ".") continue;
    if (name !== "..") names.push(name);
    else if (names.pop() === undefined) throw outside();
  }
  return names.join("/");
}

function headerName(block: Buffer): string {
  const name = cString(block.toString("utf8", 0, 100));
  const ustar = block.toString("latin1", 257, 262) === "ustar";
  const prefix = ustar ? cString(block.toString("utf8", 345, 500)) : "";
  return prefix === "" ? name : `${prefix}/${name}`;
}

function cString(text: string): string {
  const end = text.indexOf("\0");
  return end === -1 ? text : text.slice(0, end);
}

function parseOctal(field: string): number | null {
  const digits = cString(field).trim();
  if (digits === "") return 0;
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : null;
}

/** The sum of the header's bytes with its checksum field counted as spaces, as tar writes it. */
function checksumMatches(block: Buffer): boolean {
  const stored = parseOctal(block.toString("latin1", 148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  return stored !== null && stored === sum;
}

/** pax records: "LENGTH key=value\n", one after another. */
function parsePax(text: string): Map<string, string> {
  const records = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) records.set(match[1], match[2]);
  }
  return records;
}

function paxSize(pax: Map<string, string>): number {
  const value = pax.get("size") ?? "";
  if (!/^\d{1,15}$/.test(value)) throw new Refused("damaged", "The archive is damaged: an extended header gives an unreadable size.");
  return Number(value);
}
