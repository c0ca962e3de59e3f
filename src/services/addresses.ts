import { isRequestState, STATE_LABELS } from "../core/request-lifecycle.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { listAddresses, type AddressRow } from "../repositories/applicants.ts";
import { addressUsesOf, deleteAddress, expireConfirmLinks, type AddressUse } from "../repositories/addresses.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import type { ServiceContext } from "./context.ts";

/** An address of the account, and why it cannot be removed (null when it can). */
export interface AddressEntry extends AddressRow {
  kept: { reason: string; requestId: string | null } | null;
}

export const ADDRESS_MESSAGES = {
  signIn: "This is your sign-in address, so it stays on your account.",
  inUse: (use: AddressUse) => {
    const state = isRequestState(use.state) ? STATE_LABELS[use.state].toLowerCase() : use.state;
    return `Your ${state} request certifies “${use.userId}” with this address, so it stays while that request is open or certified.`;
  },
  unknown: "That address is not on your account. Nothing was removed.",
};

/**
 * The applicant's own email addresses: which may go, and removing one. The sign-in address and
 * any address a live request's user ID uses stay; everything else may be removed and confirmed
 * again later.
 */
export class AddressService {
  constructor(private readonly ctx: ServiceContext) {}

  async list(applicantId: string): Promise<AddressEntry[]> {
    const [rows, uses] = await Promise.all([listAddresses(this.ctx.db, applicantId), addressUsesOf(this.ctx.db, applicantId)]);
    return rows.map((row) => ({ ...row, kept: keptReason(row, uses.get(row.address)) }));
  }

  /** The address as the removal's confirmation shows it; 404 when it is not the applicant's. */
  async find(applicantId: string, address: string): Promise<AddressEntry> {
    const entry = (await this.list(applicantId)).find((row) => row.address === address);
    if (!entry) throw new NotFoundError(ADDRESS_MESSAGES.unknown);
    return entry;
  }

  /** Removes the address with an audit event; its unused confirmation links stop working. */
  async remove(applicantId: string, address: string, ip: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.$transaction(async (tx) => {
      const rows = await listAddresses(this.ctx.db, applicantId);
      const row = rows.find((r) => r.address === address);
      if (!row) throw new NotFoundError(ADDRESS_MESSAGES.unknown);
      const kept = keptReason(row, (await addressUsesOf(tx, applicantId)).get(address));
      if (kept) throw new ConflictError(kept.reason, "KEYSIGN_ERR_ADDRESS_KEPT");
      await deleteAddress(tx, applicantId, address);
      await expireConfirmLinks(tx, applicantId, address, now);
      await appendAuditEvent(tx, { actorType: "applicant", actorId: applicantId, ip, action: "applicant.address_removed", data: { address, confirmed: row.confirmedAt !== null } }, now);
    });
  }
}

function keptReason(row: AddressRow, use: AddressUse | undefined): AddressEntry["kept"] {
  if (row.primary) return { reason: ADDRESS_MESSAGES.signIn, requestId: null };
  if (use) return { reason: ADDRESS_MESSAGES.inUse(use), requestId: use.requestId };
  return null;
}
