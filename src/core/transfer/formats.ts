/**
 * The two transfer files between the portal and the offline signer (docs/transfer-formats.md).
 *
 * Both are a JSON envelope around a payload: the payload's exact bytes travel base64-encoded
 * and a detached OpenPGP signature covers those bytes, so verification never depends on how
 * JSON is re-serialised. A batch is signed by the portal's queue key; a result by the master key.
 */
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { TransferError } from "./transfer-error.ts";

/** 2: batches name the organisation, each item its public status URL and the key's past revocations. */
export const FORMAT_VERSION = 2;

const Fingerprint = Type.String({ pattern: "^[0-9A-F]{40}$" });
const Sha256 = Type.String({ pattern: "^[0-9a-f]{64}$" });
const Base64 = Type.String({ pattern: "^[A-Za-z0-9+/]*={0,2}$", maxLength: 1_000_000 });
const Timestamp = Type.String({ pattern: "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d{3})?Z$" });
const Id = Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" });
const Text = (maxLength: number) => Type.String({ maxLength });

export const Envelope = Type.Object(
  {
    keysign: Type.Union([Type.Literal("batch"), Type.Literal("result")]),
    version: Type.Literal(FORMAT_VERSION),
    // A 5,000-item batch is several MiB of base64; each item's fields have their own limits.
    payload: Type.String({ pattern: "^[A-Za-z0-9+/]*={0,2}$", maxLength: 64 * 1024 * 1024 }),
    signature: Type.String({ maxLength: 20_000 }),
  },
  { additionalProperties: false },
);
export type Envelope = Static<typeof Envelope>;
export type TransferKind = Envelope["keysign"];

const Notation = Type.Object({ name: Text(100), value: Text(200) }, { additionalProperties: false });
export type Notation = Static<typeof Notation>;

const Approval = Type.Object({ staff: Text(320), at: Timestamp }, { additionalProperties: false });
export type Approval = Static<typeof Approval>;

/** How every certification in one item is made; the signer uses exactly this. */
const CertificationParameters = Type.Object(
  {
    validityDays: Type.Integer({ minimum: 1, maximum: 3650 }),
    policyUrl: Text(200),
    notations: Type.Array(Notation, { maxItems: 8 }),
  },
  { additionalProperties: false },
);
export type CertificationParameters = Static<typeof CertificationParameters>;

/** An earlier revocation of a certification of the same key, shown to the signing officer. */
const PastRevocation = Type.Object({ revokedAt: Timestamp, reason: Text(600) }, { additionalProperties: false });
export type PastRevocation = Static<typeof PastRevocation>;

/** On a renewal: the request whose certification this item renews, and when that one lapses (null: never). */
const Renews = Type.Object({ requestId: Id, expiresAt: Type.Union([Timestamp, Type.Null()]) }, { additionalProperties: false });
export type Renews = Static<typeof Renews>;

const ItemBase = {
  id: Id,
  requestId: Id,
  fingerprint: Fingerprint,
  /** The canonical public key, binary, base64. */
  key: Base64,
  keySha256: Sha256,
  userIds: Type.Array(Text(1024), { minItems: 1, maxItems: 10 }),
  approvals: Type.Array(Approval, { maxItems: 20 }),
  /** The key's public status page; every revocation's text points there. */
  statusUrl: Text(300),
};

export const CertifyItem = Type.Object(
  {
    kind: Type.Literal("certify"),
    ...ItemBase,
    revision: Type.Integer({ minimum: 1 }),
    certification: CertificationParameters,
    history: Type.Array(PastRevocation, { maxItems: 20 }),
    renews: Type.Optional(Renews),
  },
  { additionalProperties: false },
);
export type CertifyItem = Static<typeof CertifyItem>;

export const RevokeItem = Type.Object(
  {
    kind: Type.Literal("revoke"),
    ...ItemBase,
    /** The certifications being revoked, one per user ID, as signature packets (base64). */
    certifications: Type.Array(Base64, { minItems: 1, maxItems: 10 }),
    reason: Type.Object({ code: Text(40), text: Text(500) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type RevokeItem = Static<typeof RevokeItem>;

/**
 * A master rotation's re-certification: user IDs another master already certifies, to be
 * certified again by this batch's (new) master (docs/master-rotation.md). `validityDays` is
 * chosen so that the new certification never outlasts the one it repeats.
 */
export const RecertifyItem = Type.Object(
  {
    kind: Type.Literal("recertify"),
    ...ItemBase,
    certification: CertificationParameters,
    /** The master whose certifications this repeats. */
    previousMaster: Fingerprint,
    /** When the repeated certifications lapse; the new ones lapse no later. */
    previousExpiresAt: Type.Union([Timestamp, Type.Null()]),
  },
  { additionalProperties: false },
);
export type RecertifyItem = Static<typeof RecertifyItem>;

export const BatchPayload = Type.Object(
  {
    format: Type.Literal("keysign-batch"),
    version: Type.Literal(FORMAT_VERSION),
    batch: Type.Integer({ minimum: 1 }),
    portal: Text(200),
    /** Who certifies, as every revocation names it. */
    organisation: Text(100),
    createdAt: Timestamp,
    expiresAt: Timestamp,
    queueKey: Fingerprint,
    master: Fingerprint,
    items: Type.Array(Type.Union([CertifyItem, RevokeItem, RecertifyItem]), { minItems: 1, maxItems: 5000 }),
  },
  { additionalProperties: false },
);
export type BatchPayload = Static<typeof BatchPayload>;
export type BatchItem = CertifyItem | RevokeItem | RecertifyItem;
/** Items the signer answers with certifications and sealed revocations. */
export type CertifyingItem = CertifyItem | RecertifyItem;

export function isCertifying(item: BatchItem): item is CertifyingItem {
  return item.kind === "certify" || item.kind === "recertify";
}

const SignedUserId = Type.Object(
  {
    userId: Text(1024),
    /** The certification (signature packet, base64). */
    certification: Base64,
    /** Its sealed revocation (type 0x30), kept by the portal for an emergency. */
    revocation: Base64,
  },
  { additionalProperties: false },
);
export type SignedUserId = Static<typeof SignedUserId>;

export const CertifiedResult = Type.Object(
  { id: Id, status: Type.Literal("certified"), userIds: Type.Array(SignedUserId, { minItems: 1, maxItems: 10 }) },
  { additionalProperties: false },
);
export const RevokedResult = Type.Object(
  {
    id: Id,
    status: Type.Literal("revoked"),
    revocations: Type.Array(Type.Object({ userId: Text(1024), revocation: Base64 }, { additionalProperties: false }), { minItems: 1, maxItems: 10 }),
  },
  { additionalProperties: false },
);
export const DeclinedResult = Type.Object(
  { id: Id, status: Type.Literal("declined"), reason: Type.String({ minLength: 1, maxLength: 1000 }) },
  { additionalProperties: false },
);
export type CertifiedResult = Static<typeof CertifiedResult>;
export type RevokedResult = Static<typeof RevokedResult>;
export type DeclinedResult = Static<typeof DeclinedResult>;
export type ResultItem = CertifiedResult | RevokedResult | DeclinedResult;

export const ResultPayload = Type.Object(
  {
    format: Type.Literal("keysign-result"),
    version: Type.Literal(FORMAT_VERSION),
    batch: Type.Integer({ minimum: 1 }),
    /** SHA-256 of the batch file as exported, so a result cannot be applied to another batch. */
    batchSha256: Sha256,
    master: Fingerprint,
    signedAt: Timestamp,
    items: Type.Array(Type.Union([CertifiedResult, RevokedResult, DeclinedResult]), { maxItems: 5000 }),
  },
  { additionalProperties: false },
);
export type ResultPayload = Static<typeof ResultPayload>;

export function parseEnvelope(bytes: Uint8Array): Envelope {
  const value = parseJson(bytes, "file");
  const version = typeof value === "object" && value !== null && "version" in value ? value.version : undefined;
  if (typeof version === "number" && version !== FORMAT_VERSION) {
    throw new TransferError(
      "KEYSIGN_ERR_TRANSFER_VERSION",
      `This file is in format version ${version}; this Keysign reads version ${FORMAT_VERSION}. Use the same Keysign release on the portal and the signing machine, and export a new batch.`,
    );
  }
  if (!Value.Check(Envelope, value)) {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_FORMAT", `This is not a Keysign transfer file (version ${FORMAT_VERSION}): ${firstError(Envelope, value)}.`);
  }
  return value;
}

export function parseBatchPayload(bytes: Uint8Array): BatchPayload {
  return parsePayload(BatchPayload, bytes, "batch");
}

export function parseResultPayload(bytes: Uint8Array): ResultPayload {
  return parsePayload(ResultPayload, bytes, "result");
}

function parsePayload<T extends TSchema>(schema: T, bytes: Uint8Array, kind: TransferKind): Static<T> {
  const value = parseJson(bytes, kind);
  if (!Value.Check(schema, value)) {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_FORMAT", `The ${kind}'s content does not follow format version ${FORMAT_VERSION}: ${firstError(schema, value)}.`);
  }
  return value;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new TransferError("KEYSIGN_ERR_TRANSFER_FORMAT", `The ${what} is not valid UTF-8 JSON; it may be truncated or damaged.`);
  }
}

function firstError(schema: TSchema, value: unknown): string {
  const error = Value.Errors(schema, value).First();
  return error ? `${error.path || "/"} ${error.message.toLowerCase()}` : "unknown structure";
}

export function encodePayload(payload: BatchPayload | ResultPayload): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(payload, null, 1));
}
