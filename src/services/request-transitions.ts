import { checkTransition, isRequestState, type RequestEvent, type RequestState } from "../core/request-lifecycle.ts";
import type { Tx } from "../db/client.ts";
import { ConflictError, KeysignError, NotFoundError } from "../errors.ts";
import { appendAuditEvent } from "../repositories/audit.ts";
import type { Actor } from "./context.ts";

export interface TransitionInput {
  requestId: string;
  event: RequestEvent;
  actor: Actor;
  /** The version the person's page showed; a different current version means the page is stale. */
  expectedVersion?: number;
  data?: Record<string, unknown>;
  now: Date;
}

export interface TransitionResult {
  from: RequestState;
  to: RequestState;
  version: number;
}

/**
 * Applies one lifecycle event inside the caller's transaction: the state machine decides,
 * a version-guarded update makes concurrent attempts produce exactly one change, and the
 * audit event commits with it.
 */
export async function applyTransition(tx: Tx, input: TransitionInput): Promise<TransitionResult> {
  const current = await tx.request.findUnique({ where: { id: input.requestId }, select: { state: true, version: true } });
  if (!current || !isRequestState(current.state)) throw new NotFoundError();
  if (input.expectedVersion !== undefined && input.expectedVersion !== current.version) throw staleError();
  const check = checkTransition(current.state, input.event, input.actor.type);
  if (!check.ok) {
    throw check.reason === "not_allowed_for_actor"
      ? new KeysignError("KEYSIGN_ERR_FORBIDDEN", check.message, 403)
      : new ConflictError(check.message, "KEYSIGN_ERR_STATE");
  }
  const updated = await tx.request.updateMany({
    where: { id: input.requestId, version: current.version },
    data: { state: check.to, version: current.version + 1, updatedAt: input.now },
  });
  if (updated.count !== 1) throw staleError();
  await appendAuditEvent(
    tx,
    {
      actorType: input.actor.type,
      actorId: input.actor.id,
      ip: input.actor.ip,
      action: `request.${input.event}`,
      requestId: input.requestId,
      fromState: current.state,
      toState: check.to,
      data: input.data ?? {},
    },
    input.now,
  );
  return { from: current.state, to: check.to, version: current.version + 1 };
}

export function staleError(): ConflictError {
  return new ConflictError(
    "This request changed after you loaded the page. Reload it to see its current state, then try again.",
    "KEYSIGN_ERR_STALE",
  );
}

/**
 * Records a change that does not move the state (an approval short of the quorum, a note)
 * by bumping the version, so pages loaded before it are stale and concurrent clicks conflict.
 */
export async function bumpVersion(tx: Tx, requestId: string, expectedVersion: number, now: Date): Promise<number> {
  const updated = await tx.request.updateMany({
    where: { id: requestId, version: expectedVersion },
    data: { version: expectedVersion + 1, updatedAt: now },
  });
  if (updated.count !== 1) throw staleError();
  return expectedVersion + 1;
}
