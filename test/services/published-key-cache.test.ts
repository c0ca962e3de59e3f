/**
 * The in-memory answers to op=get: kept until a publication signal (or the TTL), never a
 * "not found", and a signal during a lookup keeps nothing stale.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { PublishedKeyCache } from "../../src/services/published-key-cache.ts";
import { createTestApp, type TestApp } from "../helpers/app.ts";
import { certifyRequest } from "../helpers/certified.ts";
import { submitRequest } from "../helpers/requests.ts";

describe("the published key cache", () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => t.close());

  const lookup = (fingerprint: string) => t.app.inject({ method: "GET", url: `/pks/lookup?op=get&search=0x${fingerprint}` });

  it("answers from memory until the publication signal, then from the database", async () => {
    const { id } = await submitRequest(t, "cached@example.org");
    const { fingerprint } = await certifyRequest(t, id);
    const first = await lookup(fingerprint);
    assert.equal(first.statusCode, 200);
    // Withdrawn behind the portal's back (no signal): the cached answer stands.
    await t.app.db.request.update({ where: { id }, data: { state: "submitted" } });
    assert.equal((await lookup(fingerprint)).body, first.body);
    t.app.publication.changed();
    assert.equal((await lookup(fingerprint)).statusCode, 404, "the signal empties the cache");
  });

  it("never keeps a not-found answer", async () => {
    const { id, key } = await submitRequest(t, "later@example.org");
    assert.equal((await lookup(key.fingerprint)).statusCode, 404);
    await certifyRequest(t, id);
    assert.equal((await lookup(key.fingerprint)).statusCode, 200, "found at once, without a signal");
  });

  it("reads the database again once an entry is older than its time to live", async () => {
    const { id } = await submitRequest(t, "expiring@example.org");
    const { fingerprint } = await certifyRequest(t, id);
    const cache = new PublishedKeyCache(t.app.db, 0);
    assert.notEqual(await cache.armored({ kind: "fingerprint", value: fingerprint }), null);
    await t.app.db.request.update({ where: { id }, data: { state: "submitted" } });
    assert.equal(await cache.armored({ kind: "fingerprint", value: fingerprint }), null);
  });

  it("answers lookups that find nothing by key ID or address without reading every published key each time", async () => {
    const { id } = await submitRequest(t, "indexed@example.org");
    const { fingerprint } = await certifyRequest(t, id);
    let reads = 0;
    // The real database, with its reads of requests counted.
    const counted = new Proxy(t.app.db, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property !== "request" || typeof value !== "object" || value === null) return value;
        return new Proxy(value, {
          get(model, name, modelReceiver) {
            if (name === "findMany") reads += 1;
            return Reflect.get(model, name, modelReceiver);
          },
        });
      },
    });
    const cache = new PublishedKeyCache(counted);
    const keyId = fingerprint.slice(-16);
    assert.notEqual(await cache.armored({ kind: "keyId", value: keyId }), null);
    const afterFirst = reads;
    for (let i = 0; i < 50; i++) {
      assert.equal(await cache.armored({ kind: "keyId", value: i.toString(16).toUpperCase().padStart(16, "0") }), null);
      assert.equal(await cache.armored({ kind: "email", value: `nobody${i}@example.org` }), null);
    }
    assert.equal(reads, afterFirst, "a hundred lookups that find nothing read no published key");
    // This cache is not the app's, so it hears no signal: `clear()` is what the app's signal calls.
    cache.clear();
    assert.notEqual(await cache.armored({ kind: "keyId", value: keyId }), null);
    assert.ok(reads > afterFirst, "after clear() the names are read again");
  });

  it("keeps nothing read while a signal came in", async () => {
    const { id } = await submitRequest(t, "racing@example.org");
    const { fingerprint } = await certifyRequest(t, id);
    const cache = new PublishedKeyCache(t.app.db);
    const search = { kind: "fingerprint", value: fingerprint } as const;
    const during = cache.armored(search);
    cache.clear();
    assert.notEqual(await during, null);
    await t.app.db.request.update({ where: { id }, data: { state: "submitted" } });
    assert.equal(await cache.armored(search), null, "the answer read before the signal was not kept");
  });
});
