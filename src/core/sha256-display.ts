/**
 * How people read a SHA-256: the portal's signing pages and `keysign inspect`/`sign` both print
 * it through these functions, so the officer can compare the two at a glance, group by group,
 * and the two cannot drift apart.
 */

/** Hex digits per group, and groups per line (two lines of 35 characters fit a phone and an 80-column terminal beside a label). */
const GROUP = 8;
const GROUPS_PER_LINE = 4;

/** A digest in lower-case hex, in groups of eight, four groups to a line: two lines for a SHA-256. */
export function sha256Lines(hex: string): string[] {
  const groups = hex.toLowerCase().match(new RegExp(`.{1,${GROUP}}`, "g")) ?? [];
  const lines: string[] = [];
  for (let start = 0; start < groups.length; start += GROUPS_PER_LINE) lines.push(groups.slice(start, start + GROUPS_PER_LINE).join(" "));
  return lines;
}

/** The same groups on one line, as a page's text reads when its two lines are joined. */
export function formatSha256(hex: string): string {
  return sha256Lines(hex).join(" ");
}
