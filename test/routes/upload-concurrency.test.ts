/**
 * One client may have only a couple of multipart bodies in flight: each can hold a buffered
 * part in memory until it ends, so many slow uploads from one address are refused up front.
 */
import assert from "node:assert/strict";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { MAX_UPLOADS_PER_CLIENT } from "../../src/routes/body-rules.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import type { Browser } from "../helpers/http.ts";
import { signInAs } from "../helpers/session.ts";

const BOUNDARY = "----keysign-test-boundary";

describe("multipart uploads in flight per client", () => {
  let t: TestApp;
  let dev: Browser;
  let port: number;
  const sockets: Socket[] = [];
  before(async () => {
    t = await createTestApp();
    dev = await signInAs(t, "slow@example.org");
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await t.close();
  });

  /** Starts a key-step upload that announces 1 MiB and sends only its first bytes; resolves with whatever the server answers. */
  function slowUpload(): { socket: Socket; answer: Promise<string> } {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    const cookie = `ks_session=${dev.cookie("ks_session")}; ks_csrf=${dev.cookie("ks_csrf")}`;
    socket.write(
      `POST /requests/new HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: 1048576\r\n\r\n` +
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="keyText"\r\n\r\nAAAA`,
    );
    const answer = new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      socket.on("close", () => resolve(text));
      socket.on("error", () => resolve(text));
    });
    return { socket, answer };
  }

  it(`refuses a third upload from the same address while ${MAX_UPLOADS_PER_CLIENT} are still arriving, and takes one again when they end`, async () => {
    const held = [slowUpload(), slowUpload()];
    // Both connections are open and their headers sent before a later request is answered.
    while ((await new Promise<number>((resolve) => t.app.server.getConnections((_error, count) => resolve(count)))) < 2) await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await fetch(`http://127.0.0.1:${port}/`)).status, 200);
    const third = slowUpload();
    // A guard that can only catch a hang: the refusal comes from the headers alone.
    const refused = await Promise.race([third.answer, new Promise<string>((resolve) => setTimeout(() => resolve("no answer: the upload was held like the others"), 10_000).unref())]);
    assert.match(refused, /^HTTP\/1\.1 429 /);
    assert.match(refused, /Other uploads from your address are still being received/);
    for (const upload of held) upload.socket.destroy();
    await Promise.all(held.map((upload) => upload.answer));
    // Slots are released when a request ends, however it ends.
    const page = await dev.postMultipart("/requests/new", [{ name: "keyText", value: "not a key" }], "/requests/new");
    assert.equal(page.statusCode, 400);
  });
});
