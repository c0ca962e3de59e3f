/** Staff roles (PRODUCT.md). A person may hold several. */
export const STAFF_ROLES = ["reviewer", "signing_officer", "admin"] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export const ROLE_LABELS: Readonly<Record<StaffRole, string>> = {
  reviewer: "Reviewer",
  signing_officer: "Signing officer",
  admin: "Admin",
};

export function isStaffRole(value: string): value is StaffRole {
  return (STAFF_ROLES as readonly string[]).includes(value);
}

/** Roles are stored comma-separated; unknown words are dropped, never trusted. */
export function parseRoles(stored: string): StaffRole[] {
  return stored.split(",").map((r) => r.trim()).filter(isStaffRole);
}

export function serialiseRoles(roles: readonly StaffRole[]): string {
  return STAFF_ROLES.filter((role) => roles.includes(role)).join(",");
}

/**
 * Whether someone holding `held` may use what needs any one of `needed` (nothing needed: every
 * staff member may). The route guards and the pages ask this same question, so a page shows
 * a button exactly when its route would accept the click.
 */
export function holdsAnyRole(held: readonly StaffRole[], needed: readonly StaffRole[]): boolean {
  return needed.length === 0 || needed.some((role) => held.includes(role));
}
