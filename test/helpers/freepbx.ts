/**
 * A FreePBX install as GnuPG sees it: a home holding the master's public key with ultimate
 * ownertrust, a module.sig clear-signed by a developer's key, and FreePBX's own tests of what
 * gpg says (framework 17, GPG.class.php): TRUST_FULLY or TRUST_ULTIMATE means trusted, and a
 * `--check-sigs` line matching `^rev:!::1:<master long key id>` means REVOKED.
 */
import type * as openpgp from "openpgp";
import { withGpgHome, type GpgHome } from "./gpg.ts";
import type { TestKey } from "./keys.ts";

/** The INI of a module.sig, in the layout FreePBX ships (banner, [config], [hashes], end line). */
export const MODULE_INI = `;################################################
;#        FreePBX Module Signature File         #
;################################################
;# Do not alter the contents of this file!  If  #
;# this file is tampered with, the module will  #
;# fail validation and be marked as invalid!    #
;################################################

[config]
version=1
hash=sha256
signedwith=DEVKEY
signedby='dev@example.org'
repo=local
timestamp=1764460800
[hashes]
module.xml = ${"0".repeat(64)}
;# End
`;

/** module.sig as a developer makes it: `gpg --clearsign` of the INI with their own key. */
export function makeModuleSig(developer: TestKey): Promise<Buffer> {
  return withGpgHome(async (gpg) => {
    await gpg.ok(["--import"], { input: developer.privateArmored });
    return gpg.ok(["--local-user", developer.fingerprint, "--clearsign"], { input: MODULE_INI });
  });
}

/** A GnuPG home as FreePBX keeps it: the master's public key, with ultimate ownertrust. */
export function withFreepbxHome<T>(master: openpgp.PrivateKey, callback: (gpg: GpgHome) => Promise<T>): Promise<T> {
  return withGpgHome(async (gpg) => {
    await gpg.ok(["--import"], { input: master.toPublic().armor() });
    await gpg.ok(["--import-ownertrust"], { input: `${master.getFingerprint().toUpperCase()}:6:\n` });
    return callback(gpg);
  });
}

/** gpg's status lines for `--verify` of the module.sig file, as FreePBX reads them. */
export async function verifyStatus(gpg: GpgHome, moduleSig: string): Promise<string> {
  return (await gpg.run(["--status-fd", "1", "--verify", moduleSig])).stdout.toString("utf8");
}

/** FreePBX's REVOKED test on `gpg --with-colons --check-sigs <signer>`; the "1" (RSA) is hard-coded there. */
export function freepbxSeesRevoked(checkSigsListing: string, master: openpgp.PrivateKey): boolean {
  return new RegExp(`^rev:!::1:${master.getKeyID().toHex().toUpperCase()}`, "m").test(checkSigsListing);
}

/** `gpg --with-colons --check-sigs` of the developer's key by its long key ID, as FreePBX runs it. */
export async function checkSigs(gpg: GpgHome, developer: TestKey): Promise<string> {
  return (await gpg.ok(["--with-colons", "--check-sigs", developer.fingerprint.slice(-16)])).toString("utf8");
}
