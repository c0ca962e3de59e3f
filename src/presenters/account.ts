import type { FormProblem } from "../errors.ts";
import type { AddressEntry } from "../services/addresses.ts";
import { formatDate } from "./helpers.ts";

export function accountModel(addresses: AddressEntry[], extra: Record<string, unknown>) {
  return {
    title: "Your account",
    addresses: addresses.map((a) => ({
      address: a.address,
      primary: a.primary,
      confirmed: a.confirmedAt !== null,
      confirmedOn: formatDate(a.confirmedAt),
      keptReason: a.kept?.reason ?? null,
      keptRequest: a.kept?.requestId ? `/requests/${a.kept.requestId}` : null,
      removeHref: a.kept ? null : `/account/addresses/remove?address=${encodeURIComponent(a.address)}`,
    })),
    ...extra,
  };
}

/** The removal's confirmation: what follows, or why the address stays. */
export function removeAddressModel(entry: AddressEntry, problems: FormProblem[]) {
  return {
    title: "Remove an email address",
    address: entry.address,
    confirmed: entry.confirmedAt !== null,
    keptReason: entry.kept?.reason ?? null,
    keptRequest: entry.kept?.requestId ? `/requests/${entry.kept.requestId}` : null,
    problems,
  };
}
