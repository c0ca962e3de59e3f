import { holdsAnyRole, type StaffRole } from "../core/roles.ts";

interface NavLink {
  href: string;
  label: string;
  /** Roles any one of which the area's routes accept (`requireStaff`); empty: every staff member. */
  roles: readonly StaffRole[];
}

/**
 * The staff areas in the order the header shows them. Each entry's roles mirror the
 * `requireStaff` predicate of the routes behind it, so a staff member sees every area they
 * may use and no link that would answer 403.
 */
const STAFF_AREAS: readonly NavLink[] = [
  { href: "/admin", label: "Dashboard", roles: [] },
  { href: "/admin/requests", label: "Requests", roles: [] },
  { href: "/admin/signing", label: "Signing", roles: ["signing_officer"] },
  { href: "/admin/staff", label: "Staff", roles: ["admin"] },
  { href: "/admin/publication", label: "Publication", roles: ["admin"] },
  { href: "/admin/audit", label: "Audit", roles: ["admin"] },
  { href: "/admin/settings", label: "Settings", roles: ["admin"] },
];

/** The header links for a staff member holding `roles`. */
export function staffNavigation(roles: readonly StaffRole[]): { href: string; label: string }[] {
  return STAFF_AREAS.filter((area) => holdsAnyRole(roles, area.roles)).map(({ href, label }) => ({ href, label }));
}
