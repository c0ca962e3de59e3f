import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

const SRC = path.resolve(import.meta.dirname, "../../src");
/** The signer's commands, and `freepbx sync` and the module tools, which run on a FreePBX machine with Node alone. */
const SIGNER_COMMANDS = ["cli/keysign-init.ts", "cli/keysign-inspect.ts", "cli/keysign-sign.ts", "cli/freepbx-sync.ts", "cli/module-sign.ts", "cli/module-verify.ts"];
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)|(?:^|\n)\s*import\s+"([^"]+)"/g;

/** Every source file and package the signer's commands load, statically or lazily. */
function closure(entries: readonly string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = entries.map((entry) => path.join(SRC, entry));
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3] ?? "";
      if (specifier.startsWith(".")) pending.push(path.resolve(path.dirname(file), specifier));
      else packages.add(specifier);
    }
  }
  return { files, packages };
}

describe("the offline signer's commands", () => {
  it("load nothing of the portal: no plugins, routes, services, repositories, database or web framework", () => {
    const { files, packages } = closure(SIGNER_COMMANDS);
    const portal = [...files].map((file) => path.relative(SRC, file)).filter((file) => /^(plugins|routes|services|repositories|db|generated|storage|presenters)\/|^(app|server|config)\.ts$/.test(file));
    assert.deepEqual(portal, []);
    assert.deepEqual([...packages].filter((name) => /prisma|fastify|nodemailer|argon2|sqlite/.test(name)), []);
    assert.ok(files.has(path.join(SRC, "core/transfer/sign-batch.ts")), "the walk follows imports");
    assert.ok(files.has(path.join(SRC, "core/publication/feed-verify.ts")), "freepbx sync is walked too");
    assert.ok(files.has(path.join(SRC, "core/module-sig/verify.ts")), "and the module tools");
  });
});
