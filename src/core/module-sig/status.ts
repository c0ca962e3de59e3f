/**
 * FreePBX's module status bits (framework 17, GPG.class.php), with the same values, so that a
 * verdict here and one on an install can be compared bit for bit.
 */
export const STATUS = {
  GOOD: 1,
  TAMPERED: 2,
  INVALID: 4,
  UNSIGNED: 8,
  EXPIRED: 32,
  REVOKED: 64,
  TRUSTED: 128,
} as const;

export type StatusName = keyof typeof STATUS;

/** The names of the bits set, in FreePBX's order. */
export function statusNames(bits: number): StatusName[] {
  return (Object.keys(STATUS) as StatusName[]).filter((name) => (bits & STATUS[name]) !== 0);
}
