import { chromium, type Browser } from "playwright-core";

/** Debian's chromium, never a downloaded browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Launches headless chromium with the flags a closed network needs (no background
 * connections). Playwright gives it a fresh temporary profile.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
