/**
 * Runs before the suite: the programs it drives must be installed, or the run stops at once
 * with the line that installs them (a missing browser once left a test waiting forever).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { CHROMIUM_PATH } from "./helpers/browser.ts";

export interface Programs {
  /** Where the browser tests expect Debian's chromium. */
  chromium: string;
  /** The PATH gpg and nginx are looked up in. */
  path: string;
}

/** What is missing, as one message naming the programs and the install line; null when all are there. */
export function missingPrograms(programs: Programs): string | null {
  const missing: Array<{ program: string; debianPackage: string }> = [];
  if (spawnSync("gpg", ["--version"], { env: { ...process.env, PATH: programs.path } }).status !== 0) missing.push({ program: "gpg", debianPackage: "gnupg" });
  if (spawnSync("nginx", ["-v"], { env: { ...process.env, PATH: programs.path } }).status !== 0) missing.push({ program: "nginx", debianPackage: "nginx" });
  if (!existsSync(programs.chromium)) missing.push({ program: `chromium (${programs.chromium})`, debianPackage: "chromium" });
  if (missing.length === 0) return null;
  const names = missing.map((m) => m.program);
  const named = names.length > 1 ? `${names.slice(0, -1).join(", ")} and ${names.at(-1)}` : names.join("");
  return `The tests need ${named}, which this machine lacks. Install with: apt-get install -y ${missing.map((m) => m.debianPackage).join(" ")}`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const message = missingPrograms({ chromium: CHROMIUM_PATH, path: process.env.PATH ?? "" });
  if (message !== null) {
    console.error(message);
    process.exitCode = 1;
  }
}
