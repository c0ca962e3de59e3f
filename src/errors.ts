/**
 * Expected failures. Each has a stable code, a message a person can act on and an
 * HTTP status; the root error handler shows the message only below 500.
 */
export class KeysignError extends Error {
  override name = "KeysignError";
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

export class NotFoundError extends KeysignError {
  constructor(message = "There is nothing here. Check the address, or sign in with the account that owns it.") {
    super("KEYSIGN_ERR_NOT_FOUND", message, 404);
  }
}

export class ConflictError extends KeysignError {
  constructor(message: string, code = "KEYSIGN_ERR_CONFLICT") {
    super(code, message, 409);
  }
}

/** A single-use form token was already spent: the service leads to what the first sending made. */
export class FormAlreadySentError extends ConflictError {
  constructor() {
    super("This form was already sent.", "KEYSIGN_ERR_FORM_ALREADY_SENT");
  }
}

export class ValidationError extends KeysignError {
  constructor(message: string, code = "KEYSIGN_ERR_INVALID") {
    super(code, message, 400);
  }
}

export class TooManyRequestsError extends KeysignError {
  constructor(message: string) {
    super("KEYSIGN_ERR_RATE_LIMITED", message, 429);
  }
}

/**
 * A request body the route does not take: the wrong content type (415), larger than the
 * route's limit (413), without a length (411), or unreadable (400). Refused before or while
 * reading, so nothing was stored.
 */
export class BodyRefusedError extends KeysignError {
  override name = "BodyRefusedError";
}

/** The form's CSRF token is missing, not first, or its cookie is gone: reloading the page gives a fresh one. */
export class FormExpiredError extends KeysignError {
  constructor(code = "KEYSIGN_ERR_FORM_EXPIRED") {
    super(code, "This form has expired or was opened in another browser. Reload the page and submit it again.", 403);
  }
}

export function isKeysignError(error: unknown): error is KeysignError {
  return error instanceof KeysignError;
}

export interface FormProblem {
  /** The form field the problem is about, or "form" for the whole form. */
  field: string;
  code: string;
  message: string;
}

/** Input that the form re-renders with one message per problem, keeping what was typed. */
export class FormError extends KeysignError {
  constructor(
    readonly problems: FormProblem[],
    statusCode = 400,
  ) {
    super(problems[0]?.code ?? "KEYSIGN_ERR_INVALID", problems[0]?.message ?? "Please correct the marked fields.", statusCode);
  }
}

/** Why a status feed was refused; each has its own code (`KEYSIGN_ERR_FEED_*`). */
export type FeedRefusal = "too_large" | "signature" | "signer" | "malformed" | "publication_key" | "stale" | "rollback";

/**
 * A status feed an install must not act on: unsigned or signed by another key, damaged, for
 * another publication key, frozen (past `validUntil`) or older than one accepted before.
 */
export class FeedRefusedError extends KeysignError {
  override name = "FeedRefusedError";
  constructor(
    readonly refusal: FeedRefusal,
    message: string,
  ) {
    super(`KEYSIGN_ERR_FEED_${refusal.toUpperCase()}`, message, 422);
  }
}

/**
 * An owner update of a published key that was refused (not a certified key, not this request's
 * key, refused by intake's bounds): nothing was stored. The message says why and what to do.
 */
export class OwnerUpdateRefusedError extends KeysignError {
  override name = "OwnerUpdateRefusedError";
}

/** The files a re-rendered request form keeps for the next try (src/services/held-uploads.ts). */
export interface KeptFiles {
  /** The random handle the form carries; only its SHA-256 is stored. */
  handle: string;
  agreement: { fileName: string; size: number } | null;
  signature: { fileName: string } | null;
}

/**
 * A request form that failed, with the files that were valid kept for the next try, and a
 * notice when files the form named earlier could not be used (expired, or not this form's).
 */
export class HeldFilesFormError extends FormError {
  constructor(
    problems: FormProblem[],
    statusCode: number,
    readonly kept: KeptFiles | null,
    readonly notice: string | null,
  ) {
    super(problems, statusCode);
  }
}
