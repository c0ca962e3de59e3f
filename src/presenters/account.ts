import type { AddressRow } from "../repositories/applicants.ts";
import { formatDate } from "./helpers.ts";

export function accountModel(addresses: AddressRow[], extra: Record<string, unknown>) {
  return {
    title: "Your account",
    addresses: addresses.map((a) => ({
      address: a.address,
      primary: a.primary,
      confirmed: a.confirmedAt !== null,
      confirmedOn: formatDate(a.confirmedAt),
    })),
    ...extra,
  };
}
