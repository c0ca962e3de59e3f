import { randomUUID } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
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
    const temp = path.join(this.paths.tmp, `${storageName}.part`);
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.agreementPath(storageName));
    return storageName;
  }

  agreementPath(storageName: string): string {
    if (!/^[0-9a-f-]{36}\.pdf$/.test(storageName)) throw new Error("invalid storage name");
    return path.join(this.paths.agreements, storageName);
  }

  async removeAgreement(storageName: string): Promise<void> {
    await rm(this.agreementPath(storageName), { force: true });
  }
}
