import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";
import { createTestApp, type TestApp } from "./app.ts";
import { TestSmtpServer } from "./smtp.ts";

/** Debian's chromium, never a downloaded browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/**
 * Launches headless chromium with the flags a closed network needs (no background
 * connections). Playwright gives it a fresh temporary profile.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Debian's chromium is not at ${CHROMIUM_PATH}. Install it with: apt-get install -y chromium`);
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

export interface LivePortal {
  t: TestApp;
  smtp: TestSmtpServer;
  /** http://127.0.0.1:<port> */
  base: string;
  browser: Browser;
  close: () => Promise<void>;
}

/**
 * The portal listening on loopback with a real SMTP server and the mail worker running, on the
 * real clock (keys made by gpg and authenticator codes typed in the browser are made from it),
 * and chromium to drive it.
 */
export async function startLivePortal(): Promise<LivePortal> {
  const smtp = new TestSmtpServer();
  let t: TestApp | null = null;
  try {
    t = await createTestApp({ SMTP_URL: await smtp.start(), MAIL_WORKER: "true" }, new Date());
    Object.defineProperty(t.clock, "now", { get: () => new Date() });
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    return await withBrowser(t, smtp, base);
  } catch (error) {
    // Whatever started before the failure stops again.
    await t?.close();
    await smtp.stop();
    throw error;
  }
}

async function withBrowser(t: TestApp, smtp: TestSmtpServer, base: string): Promise<LivePortal> {
  const browser = await launchChromium();
  return {
    t,
    smtp,
    base,
    browser,
    close: async () => {
      await browser.close();
      await t.close();
      await smtp.stop();
    },
  };
}
