/** "5F72 6FA3 3EDF …": upper-case hex in groups of four separated by single spaces. */
export function formatFingerprint(fpr: string): string {
  const hex = fpr.replace(/\s+/g, "").toUpperCase();
  return (hex.match(/.{1,4}/g) ?? []).join(" ");
}
