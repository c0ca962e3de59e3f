import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as openpgp from "openpgp";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { Browser } from "../helpers/http.ts";
import { submitRequest } from "../helpers/requests.ts";
import { signInAs } from "../helpers/session.ts";

describe("the applicant's certified key download", () => {
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  it("gives the owner the key with every certification as an armored attachment, linked from the request page", async () => {
    const { id, key, applicant } = await submitRequest(t, "owner@example.org");
    const notYet = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(notYet.statusCode, 404);
    assert.match(notYet.body, /no certified key \(yet\)/);
    assert.doesNotMatch((await applicant.get(`/requests/${id}`)).body, /certified-key/);

    const certified = await certifyRequest(t, id);
    const page = await applicant.get(`/requests/${id}`);
    assert.match(page.body, new RegExp(`href="/requests/${id}/certified-key"`));
    assert.match(page.body, new RegExp(`gpg --import ${key.fingerprint}\\.asc`));
    const response = await applicant.get(`/requests/${id}/certified-key`);
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-type"], "application/pgp-keys");
    assert.equal(response.headers["content-disposition"], `attachment; filename="${key.fingerprint}.asc"`);
    assert.equal(response.headers["x-content-type-options"], "nosniff");
    // With the CRC line: GnuPG 2.2 cannot read some armored keys without it.
    assert.match(response.body, /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n[A-Za-z0-9+/=\n]+\n=[A-Za-z0-9+/]{4}\n-----END PGP PUBLIC KEY BLOCK-----\n$/);
    const read = await openpgp.readKey({ armoredKey: response.body });
    assert.equal(read.getFingerprint().toUpperCase(), key.fingerprint);
    const user = read.users[0];
    assert.equal(user?.otherCertifications.length, 1);
    assert.equal(user?.otherCertifications[0]?.issuerKeyID.toHex(), certified.master.getKeyID().toHex());
    // The sealed revocation is never handed out before staff revoke.
    assert.equal(user?.revocationSignatures.length, 0);
  });

  it("hides the download from another applicant and from visitors who are not signed in", async () => {
    const { id, key } = await submitRequest(t, "private@example.org");
    await certifyRequest(t, id);
    const mallory = await signInAs(t, "mallory@example.org");
    const other = await mallory.get(`/requests/${id}/certified-key`);
    assert.equal(other.statusCode, 404);
    assert.doesNotMatch(other.body, new RegExp(key.fingerprint.slice(0, 8)));
    assert.doesNotMatch(other.body, /BEGIN PGP/);
    const anonymous = await new Browser(t.app).get(`/requests/${id}/certified-key`);
    assert.equal(anonymous.statusCode, 303);
    assert.match(String(anonymous.headers.location), /^\/sign-in/);
  });
});
