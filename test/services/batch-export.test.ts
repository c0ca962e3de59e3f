/** What must be set before a batch leaves the portal; a pure function, so every case is cheap. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_SETTINGS } from "../../src/core/settings.ts";
import { exportPrerequisites } from "../../src/services/batch-export.ts";

const READY = { ...DEFAULT_SETTINGS, organisationName: "FreePBX", certificationDomain: "keys.freepbx.org" };

describe("exportPrerequisites", () => {
  it("lets a batch leave once the organisation, the domain and a public address are set", () => {
    assert.equal(exportPrerequisites(READY, "https://keysign.freepbx.org"), null);
    assert.equal(exportPrerequisites(READY, "http://portal.internal.example:8080"), null);
  });

  it("names each missing setting", () => {
    assert.match(exportPrerequisites({ ...READY, organisationName: "" }, "https://keysign.freepbx.org") ?? "", /^Set the organisation name in Settings/);
    assert.match(exportPrerequisites({ ...READY, certificationDomain: "" }, "https://keysign.freepbx.org") ?? "", /^Set the certification domain in Settings/);
  });

  it("refuses every loopback, unspecified or localhost address, a trailing dot included", () => {
    for (const url of ["http://localhost:3000", "http://LOCALHOST.:3000", "http://keysign.localhost", "http://127.0.0.1:3000", "http://127.1.2.3", "http://0.0.0.0:3000", "http://[::1]:3000", "http://[::]:3000"]) {
      assert.match(exportPrerequisites(READY, url) ?? "", /^PUBLIC_URL is .*: every revocation points to the key's status page under it/, url);
    }
  });
});
