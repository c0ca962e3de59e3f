/**
 * Staff login: time for a wrong password on a known account against an unknown address.
 * Both run one argon2id verification (a dummy hash for unknown addresses), so the two
 * medians should be close; a large gap would let an attacker tell which addresses exist.
 */
import { performance } from "node:perf_hooks";
import { createTestApp } from "../test/helpers/app.ts";
import { Browser } from "../test/helpers/http.ts";
import { createStaff } from "../test/helpers/staff.ts";

const RUNS = 15;

export async function runLoginTiming(): Promise<void> {
  const t = await createTestApp();
  try {
    await createStaff(t, { email: "known@keysign.example", roles: ["reviewer"] });
    const median = async (email: string) => {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        await t.app.db.loginAttempt.deleteMany();
        const browser = new Browser(t.app);
        const start = performance.now();
        await browser.postForm("/admin/login", { email, password: "wrong password here" }, "/admin/login").catch(() => undefined);
        times.push(performance.now() - start);
      }
      return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)] ?? 0;
    };
    await median("warm-up@keysign.example");
    const known = await median("known@keysign.example");
    const unknown = await median("nobody@keysign.example");
    console.log(`\n## Staff login timing (${RUNS} attempts each, median incl. CSRF fetch)`);
    console.log(`wrong password on a known account: ${known.toFixed(1)} ms; unknown address: ${unknown.toFixed(1)} ms; ratio ${(unknown / known).toFixed(2)}`);
  } finally {
    await t.close();
  }
}
