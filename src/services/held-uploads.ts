import { randomUUID } from "node:crypto";
import { hashToken, isWellFormedToken, newToken } from "../core/tokens.ts";
import type { KeptFiles } from "../errors.ts";
import {
  createHeldUpload,
  deleteHeldUploads,
  findHeldUpload,
  heldAgreementStorageNames,
  listExpiredHeldUploadIds,
  listHeldUploadIdsOf,
  swapHeldUpload,
  type HeldSwap,
  type HeldUploadFiles,
} from "../repositories/held-uploads.ts";
import type { ServiceContext } from "./context.ts";

/** How long files of a failed form are kept for the next try. */
export const HELD_TTL_MS = 60 * 60 * 1000;
/** Held sets per applicant: one per form they may have open; the oldest goes first. */
export const MAX_HELD_SETS = 3;
/** How often the sweep runs while the portal is up. */
export const HELD_SWEEP_INTERVAL_MS = 10 * 60 * 1000;

export interface HeldFile {
  bytes: Uint8Array;
  fileName: string;
  /** Whether this try took it from the held set rather than from the form. */
  fromHeld: boolean;
}

/** The files a form's try may use from its held set, and a notice when a named set could not be used. */
export interface TakenFiles {
  id: string | null;
  handle: string;
  agreement: HeldFile | null;
  signature: HeldFile | null;
  /** The stored file the held agreement was read from: a later try keeps it only while the set still names it. */
  storedAgreement: string | null;
  notice: string | null;
}

export const HELD_NOTICES = {
  gone: "The files you chose earlier are no longer kept for this form, so they were not used. Choose the agreement and its signature again.",
  expired: "The files you chose earlier were kept for an hour and have been deleted. Choose the agreement and its signature again.",
};

/**
 * Files of a request form that failed, kept server-side for the same applicant's next try of the
 * same form (docs/decisions.md). A set is found by a random handle the form carries, and only for
 * the applicant and the purpose ("new", or the request being revised) it was made for; anyone
 * else's handle is ignored. Nothing held is ever served: the form only names the files.
 */
export class HeldUploads {
  constructor(private readonly ctx: ServiceContext) {}

  /** The held files `handle` names for this applicant and purpose; none (with a notice) for any other handle. */
  async take(applicantId: string, purpose: string, handle: string): Promise<TakenFiles> {
    const none = { id: null, handle: "", agreement: null, signature: null, storedAgreement: null };
    if (handle === "") return { ...none, notice: null };
    const row = isWellFormedToken(handle) ? await findHeldUpload(this.ctx.db, hashToken(handle)) : null;
    if (!row || row.applicantId !== applicantId || row.purpose !== purpose) return { ...none, notice: HELD_NOTICES.gone };
    if (row.expiresAt <= this.ctx.now()) {
      await this.discard(row.id);
      return { ...none, notice: HELD_NOTICES.expired };
    }
    const bytes = row.agreementStorageName ? await this.ctx.files.readHeld(row.agreementStorageName) : null;
    return {
      id: row.id,
      handle,
      agreement: bytes && row.agreementFileName ? { bytes, fileName: row.agreementFileName, fromHeld: true } : null,
      signature: row.signature && row.signatureFileName ? { bytes: row.signature, fileName: row.signatureFileName, fromHeld: true } : null,
      storedAgreement: bytes ? row.agreementStorageName : null,
      notice: null,
    };
  }

  /**
   * Keeps `valid` (the files of this try that were themselves valid) for the next try, in the
   * set `taken` came from or a new one; with nothing valid, the set goes. Returns what the form shows.
   * Parallel tries of one form (a double click, two tabs) each swap the set's file in one
   * transaction and remove exactly the file they replaced, so no file is left that no set names.
   */
  async keep(applicantId: string, purpose: string, taken: TakenFiles, valid: { agreement: HeldFile | null; signature: HeldFile | null }): Promise<KeptFiles | null> {
    if (!valid.agreement && !valid.signature) {
      if (taken.id) await this.discard(taken.id);
      return null;
    }
    const now = this.ctx.now();
    const expiresAt = new Date(now.getTime() + HELD_TTL_MS);
    const files: HeldUploadFiles = {
      agreementStorageName: null,
      agreementFileName: valid.agreement?.fileName ?? null,
      agreementSize: valid.agreement?.bytes.length ?? null,
      signature: valid.signature?.bytes ?? null,
      signatureFileName: valid.signature?.fileName ?? null,
    };
    const keptAsIs = taken.id && valid.agreement?.fromHeld && (await this.keepHeldFile(taken.id, taken.storedAgreement, files, expiresAt));
    const handle = keptAsIs ? taken.handle : await this.keepNewFile(applicantId, purpose, taken, files, valid.agreement?.bytes ?? null, now, expiresAt);
    return {
      handle,
      agreement: valid.agreement ? { fileName: valid.agreement.fileName, size: valid.agreement.bytes.length } : null,
      signature: valid.signature ? { fileName: valid.signature.fileName } : null,
    };
  }

  /** Deletes a set and its file (after the form it served succeeded). */
  async discard(id: string | null): Promise<void> {
    if (!id) return;
    for (const name of await deleteHeldUploads(this.ctx.db, [id])) await this.ctx.files.removeHeld(name);
  }

  /** Deletes every expired set with its file, and files no set names (a process stopped mid-way). */
  async sweep(): Promise<number> {
    const now = this.ctx.now();
    const names = await deleteHeldUploads(this.ctx.db, await listExpiredHeldUploadIds(this.ctx.db, now));
    for (const name of names) await this.ctx.files.removeHeld(name);
    const strays = await this.ctx.files.removeStrayHeld(await heldAgreementStorageNames(this.ctx.db), now, HELD_TTL_MS);
    return names.length + strays;
  }

  /** Keeps the held agreement's file as it is; false when another try replaced it or the set went meanwhile. */
  private async keepHeldFile(id: string, stored: string | null, files: HeldUploadFiles, expiresAt: Date): Promise<boolean> {
    if (!stored) return false;
    const swap = await swapHeldUpload(this.ctx.db, id, { ...files, agreementStorageName: stored }, expiresAt, stored);
    return swap.swapped;
  }

  /**
   * Writes this try's agreement to a new file and points the set `taken` came from at it, or a new
   * set when there is none (or it was swept meanwhile, its file with it). The file the set named
   * before goes after the commit; if no row came to name the new file, it goes at once.
   */
  private async keepNewFile(applicantId: string, purpose: string, taken: TakenFiles, files: HeldUploadFiles, bytes: Uint8Array | null, now: Date, expiresAt: Date): Promise<string> {
    const saved = bytes ? await this.ctx.files.saveHeld(bytes) : null;
    const withFile = { ...files, agreementStorageName: saved };
    let swap: HeldSwap = { swapped: false, reason: "gone" };
    let handle = taken.handle;
    try {
      if (taken.id) swap = await swapHeldUpload(this.ctx.db, taken.id, withFile, expiresAt);
      if (!swap.swapped) {
        handle = newToken();
        await createHeldUpload(this.ctx.db, { id: randomUUID(), handleHash: hashToken(handle), applicantId, purpose, createdAt: now, expiresAt, ...withFile });
      }
    } catch (error) {
      if (saved) await this.ctx.files.removeHeld(saved);
      throw error;
    }
    if (!swap.swapped) await this.trim(applicantId);
    else if (swap.previous && swap.previous !== saved) await this.ctx.files.removeHeld(swap.previous);
    return handle;
  }

  /** At most MAX_HELD_SETS per applicant: older sets go with their files. */
  private async trim(applicantId: string): Promise<void> {
    const ids = await listHeldUploadIdsOf(this.ctx.db, applicantId);
    const names = await deleteHeldUploads(this.ctx.db, ids.slice(MAX_HELD_SETS));
    for (const name of names) await this.ctx.files.removeHeld(name);
  }
}
