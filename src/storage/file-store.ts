import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { DataPaths } from "./data-dir.ts";

/**
 * Stores uploaded files under names we choose (never the client's). A file is written
 * to tmp/, fsynced and renamed into place before any row refers to it; if the row
 * cannot be written the caller removes the file again.
 */
export class FileStore {
  constructor(private readonly paths: DataPaths) {}

  async saveAgreement(bytes: Uint8Array): Promise<string> {
    const storageName = `${randomUUID()}.pdf`;
    await this.writeDurably(bytes, path.join(this.paths.tmp, `${storageName}.part`), this.agreementPath(storageName));
    return storageName;
  }

  /** Written to a temporary file, flushed to disk, then renamed into place: a reader never sees half a file. */
  private async writeDurably(bytes: Uint8Array, temp: string, target: string): Promise<void> {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  }

  agreementPath(storageName: string): string {
    if (!/^[0-9a-f-]{36}\.pdf$/.test(storageName)) throw new Error("invalid storage name");
    return path.join(this.paths.agreements, storageName);
  }

  async removeAgreement(storageName: string): Promise<void> {
    await rm(this.agreementPath(storageName), { force: true });
  }

  /**
   * A file of a failed form, kept for the applicant's next try (src/services/held-uploads.ts):
   * written like an agreement, into its own folder so that the agreement sweep never sees it.
   */
  async saveHeld(bytes: Uint8Array): Promise<string> {
    await mkdir(this.heldDir(), { recursive: true, mode: 0o700 });
    const storageName = `${randomUUID()}.pdf`;
    await this.writeDurably(bytes, path.join(this.paths.tmp, `held-${storageName}.part`), this.heldPath(storageName));
    return storageName;
  }

  async readHeld(storageName: string): Promise<Uint8Array | null> {
    try {
      return await readFile(this.heldPath(storageName));
    } catch {
      return null;
    }
  }

  async removeHeld(storageName: string): Promise<void> {
    await rm(this.heldPath(storageName), { force: true });
  }

  /** Held files older than `maxAgeMs` that `named` does not hold: a process stopped between file and row. */
  async removeStrayHeld(named: ReadonlySet<string>, now: Date, maxAgeMs: number): Promise<number> {
    let removed = 0;
    const names = await readdir(this.heldDir()).catch(() => []);
    for (const name of names) {
      if (named.has(name)) continue;
      const file = path.join(this.heldDir(), name);
      const info = await stat(file).catch(() => null);
      if (info && now.getTime() - info.mtime.getTime() < maxAgeMs) continue;
      await rm(file, { force: true, recursive: true });
      removed += 1;
    }
    return removed;
  }

  heldDir(): string {
    return path.join(this.paths.root, "held");
  }

  heldPath(storageName: string): string {
    if (!/^[0-9a-f-]{36}\.pdf$/.test(storageName)) throw new Error("invalid storage name");
    return path.join(this.heldDir(), storageName);
  }
}
