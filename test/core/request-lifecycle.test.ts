import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  availableEvents,
  checkTransition,
  REQUEST_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  type Actor,
  type RequestEvent,
  type RequestState,
} from "../../src/core/request-lifecycle.ts";

/** The lifecycle of PRODUCT.md, written out independently of the table under test. */
const EXPECTED: Array<[RequestState | null, RequestEvent, Actor, RequestState]> = [
  [null, "submit", "applicant", "submitted"],
  ["submitted", "start_review", "staff", "in_review"],
  ["submitted", "approve", "staff", "approved"],
  ["in_review", "approve", "staff", "approved"],
  ["submitted", "request_changes", "staff", "changes_requested"],
  ["in_review", "request_changes", "staff", "changes_requested"],
  ["changes_requested", "resubmit", "applicant", "in_review"],
  ["submitted", "reject", "staff", "rejected"],
  ["in_review", "reject", "staff", "rejected"],
  ["changes_requested", "reject", "staff", "rejected"],
  ["submitted", "withdraw", "applicant", "withdrawn"],
  ["in_review", "withdraw", "applicant", "withdrawn"],
  ["changes_requested", "withdraw", "applicant", "withdrawn"],
  ["approved", "withdraw", "applicant", "withdrawn"],
  ["queued", "withdraw", "applicant", "withdrawn"],
  ["approved", "enqueue", "system", "queued"],
  ["queued", "export", "staff", "exported"],
  ["exported", "cancel_export", "staff", "queued"],
  ["exported", "decline", "staff", "in_review"],
  ["exported", "certify", "staff", "certified"],
  ["certified", "revoke", "staff", "revoked"],
  ["certified", "revoke", "system", "revoked"],
];

const ACTORS: Actor[] = ["applicant", "staff", "system"];
const EVENTS = Object.keys(TRANSITIONS) as RequestEvent[];

describe("request lifecycle", () => {
  for (const [from, event, actor, to] of EXPECTED) {
    it(`${from ?? "(new)"} --${event} by ${actor}--> ${to}`, () => {
      assert.deepEqual(checkTransition(from, event, actor), { ok: true, to });
    });
  }

  it("allows nothing beyond the listed transitions, for any state, event and actor", () => {
    for (const from of [null, ...REQUEST_STATES]) {
      for (const event of EVENTS) {
        for (const actor of ACTORS) {
          const listed = EXPECTED.some(([f, e, a]) => f === from && e === event && a === actor);
          assert.equal(checkTransition(from, event, actor).ok, listed, `${from} ${event} ${actor}`);
        }
      }
    }
  });

  it("refuses withdrawal once the request has left the portal, with a message naming the state", () => {
    const result = checkTransition("exported", "withdraw", "applicant");
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.reason === "not_allowed_from_state");
    assert.match(!result.ok ? result.message : "", /at the signing ceremony/);
  });

  it("refuses an applicant approving, naming who can", () => {
    const result = checkTransition("in_review", "approve", "applicant");
    assert.ok(!result.ok && result.reason === "not_allowed_for_actor");
    assert.match(!result.ok ? result.message : "", /Only staff/);
  });

  it("has no way out of terminal states", () => {
    for (const state of TERMINAL_STATES) {
      for (const actor of ACTORS) assert.deepEqual(availableEvents(state, actor), [], `${state} ${actor}`);
    }
  });

  it("lists the applicant's buttons for a request in review", () => {
    assert.deepEqual(availableEvents("in_review", "applicant"), ["withdraw"]);
    assert.deepEqual(availableEvents("changes_requested", "applicant"), ["resubmit", "withdraw"]);
  });
});
