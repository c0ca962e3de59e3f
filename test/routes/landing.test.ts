import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { acceptedKeyPolicy, DEFAULT_KEY_POLICY, inspectKey, LIMITS } from "../../src/core/key-policy.ts";
import { GPL_COMPATIBLE_LICENCES } from "../../src/core/submission.ts";
import { acceptedKeyLines, landingModel } from "../../src/presenters/landing.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { withGpgHome } from "../helpers/gpg.ts";
import { Browser } from "../helpers/http.ts";

const INPUT = { approvalsRequired: 2, schedule: "" };

describe("the start page's accepted keys come from the intake policy", () => {
  it("names each accepted algorithm and the RSA sizes of the policy", () => {
    assert.deepEqual(acceptedKeyLines(acceptedKeyPolicy(2048)), [
      "Ed25519",
      "ECDSA P-256",
      "ECDSA P-384",
      "ECDSA P-521",
      `RSA of 2048 to ${LIMITS.maxRsaBits} bits (${LIMITS.rsaWarnBelowBits} or more recommended)`,
    ]);
  });

  it("changes when the policy does", () => {
    const strict = landingModel({ ...INPUT, policy: acceptedKeyPolicy(4096) });
    assert.ok(strict.acceptedKeys.includes(`RSA of 4096 to ${LIMITS.maxRsaBits} bits`));
    const rsaOnly = landingModel({ ...INPUT, policy: { ...acceptedKeyPolicy(2048), algorithms: ["rsa"], maxRsaBits: 8192, maxUserIds: 3 } });
    assert.deepEqual(rsaOnly.acceptedKeys, [`RSA of 2048 to 8192 bits (${LIMITS.rsaWarnBelowBits} or more recommended)`]);
    assert.ok(rsaOnly.keyRules.some((rule) => rule.startsWith("At most 3 user IDs")));
    // The command makes a key the policy takes.
    assert.match(rsaOnly.commands.generate, / rsa3072 sign 2y$/);
    assert.match(landingModel({ ...INPUT, policy: acceptedKeyPolicy(2048) }).commands.generate, / ed25519 sign 2y$/);
  });

  it("says how long review takes with the quorum, and the ceremony with the schedule", () => {
    const one = landingModel({ policy: acceptedKeyPolicy(2048), approvalsRequired: 1, schedule: "on the first Monday of each month" });
    assert.match(one.reviewTime, /^A staff member checks/);
    assert.equal(one.ceremonyTime, "Signing ceremonies are held on the first Monday of each month.");
    assert.match(landingModel({ ...INPUT, policy: acceptedKeyPolicy(2048) }).reviewTime, /^2 different staff members check/);
  });
});

describe("the start page's commands, run with GnuPG", () => {
  it("make a key that intake accepts", async () => {
    const { commands } = landingModel({ ...INPUT, policy: acceptedKeyPolicy(DEFAULT_KEY_POLICY.minRsaBits) });
    const at = new Date("2026-11-24T12:00:00Z");
    const checked = await withGpgHome(async (gpg) => {
      // The page's command word for word, with GnuPG's batch options and no passphrase.
      const [, userId = "", ...rest] = /^gpg --quick-generate-key "([^"]+)" (.+)$/.exec(commands.generate) ?? [];
      await gpg.ok(["--passphrase", "", "--quick-generate-key", userId, ...(rest[0] ?? "").split(" ")], { at });
      const key = await gpg.ok(["--armor", "--export", "you@example.org"]);
      return inspectKey(key, { ...DEFAULT_KEY_POLICY, now: at });
    });
    assert.equal(checked.ok, true, JSON.stringify(checked));
    assert.match(commands.export, /^gpg --armor --export you@example\.org > key\.asc$/);
  });
});

describe("the start page", () => {
  let t: TestApp;
  let body: string;
  before(async () => {
    t = await createTestApp({ MIN_RSA_BITS: "3072", SIGNING_SCHEDULE: "every other Thursday" });
    body = (await new Browser(t.app).get("/")).body;
  });
  after(async () => t.close());

  it("lists the keys the portal's own RSA minimum accepts", () => {
    assert.match(body, /<li>Ed25519<\/li>/);
    assert.match(body, new RegExp(`<li>RSA of 3072 to ${LIMITS.maxRsaBits} bits</li>`));
    assert.doesNotMatch(body, /RSA of 2048/);
  });

  it("says when ceremonies are held, from the setting", () => {
    assert.match(body, /Signing ceremonies are held every other Thursday\./);
  });

  it("lists every licence the form takes, as a list", () => {
    const list = /<ul class="licences">([\s\S]*?)<\/ul>/.exec(body)?.[1] ?? "";
    const ids = [...list.matchAll(/<li>[^<]*\(<code>([^<]+)<\/code>\)<\/li>/g)].map((m) => m[1]);
    assert.deepEqual(ids, GPL_COMPATIBLE_LICENCES.map((l) => l.id));
  });

  it("gives the commands to make a key, export it and sign the agreement, each with a copy button", () => {
    const commands = [...body.matchAll(/<div class="command" data-command>\s*<pre><code>([^<]*)<\/code><\/pre>/g)].map((m) => m[1]);
    assert.deepEqual(commands, [
      "gpg --quick-generate-key &quot;Your Name &lt;you@example.org&gt;&quot; ed25519 sign 2y",
      "gpg --local-user you@example.org --armor --detach-sign agreement.pdf",
      "gpg --armor --export you@example.org &gt; key.asc",
    ]);
  });

  it("links to the agreement template, the key directory and the module check", () => {
    for (const href of ["/public/keysign-agreement.pdf", "/keys", "/check-module", "/sign-in"]) assert.ok(body.includes(`href="${href}"`), href);
  });
});
