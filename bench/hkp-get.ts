/**
 * HKP `op=get` by fingerprint against a real listening portal at 50 concurrent connections
 * (autocannon in a second process, loopback), as a ratio of a bare Fastify "hello" measured
 * in the same run. Goals: at least 0.5× the ceiling, p99 at most 10 ms.
 */
import { createTestApp } from "../test/helpers/app.ts";
import { certifyRequest } from "../test/helpers/certified.ts";
import { submitRequest } from "../test/helpers/requests.ts";
import type { AddressInfo } from "node:net";
import { bareHello, load } from "./http-load.ts";

const CONNECTIONS = 50;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 10;

export async function runHkpGet(): Promise<void> {
  console.log(`\n## HKP op=get by fingerprint (autocannon in a second process, ${CONNECTIONS} connections, loopback)`);
  const hello = await bareHello();
  const t = await createTestApp({}, new Date());
  try {
    // Ten certified keys, so a lookup is one among several, as on a real portal.
    let fingerprint = "";
    for (let i = 0; i < 10; i++) fingerprint = (await certifyRequest(t, (await submitRequest(t, `bench${i}@example.org`)).id)).fingerprint;
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/pks/lookup?op=get&options=mr&search=0x${fingerprint}`;
    const ceiling = await load(hello.url, undefined, CONNECTIONS);
    const hkp = await load(url, undefined, CONNECTIONS);
    // A constant answer through the same app (no database, no key): what every route of the app costs.
    const constant = await load(url.replace(/\/pks\/lookup\?.*$/, "/status/v1/publication-key.asc"), undefined, CONNECTIONS);
    const ratio = hkp.rps / ceiling.rps;
    console.log("| route | req/s | ratio to hello | p50 ms | p99 ms | errors | non-2xx |");
    console.log("|---|---|---|---|---|---|---|");
    console.log(`| bare fastify hello (ceiling) | ${ceiling.rps.toFixed(0)} | 1.00 | ${ceiling.p50} | ${ceiling.p99} | ${ceiling.errors} | ${ceiling.non2xx} |`);
    console.log(`| the app's constant publication-key.asc | ${constant.rps.toFixed(0)} | ${(constant.rps / ceiling.rps).toFixed(2)} | ${constant.p50} | ${constant.p99} | ${constant.errors} | ${constant.non2xx} |`);
    console.log(`| HKP op=get by fingerprint | ${hkp.rps.toFixed(0)} | ${ratio.toFixed(2)} | ${hkp.p50} | ${hkp.p99} | ${hkp.errors} | ${hkp.non2xx} |`);
    console.log(`\nGoals: ratio ≥ ${GOAL_RATIO} (${ratio >= GOAL_RATIO ? "met" : "NOT met"}), p99 ≤ ${GOAL_P99_MS} ms (${hkp.p99 <= GOAL_P99_MS ? "met" : "NOT met"}).`);
  } finally {
    await t.close();
    await hello.close();
  }
}
