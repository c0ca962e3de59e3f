import type { Multipart, MultipartFile } from "@fastify/multipart";
import type { FastifyRequest } from "fastify";
import { BodyRefusedError, FormExpiredError, isKeysignError } from "../errors.ts";
import { formatBytes } from "../presenters/helpers.ts";

export interface UploadedFile {
  bytes: Uint8Array;
  /** As the client named it: for display only, never a path. */
  filename: string;
}

/** A multipart form read into plain values: every field as a list of strings, files as bytes. */
export interface MultipartForm {
  fields: Map<string, string[]>;
  files: Map<string, UploadedFile>;
}

/** One file input of a form: the largest file it takes, and what people call it. */
export interface FileLimit {
  maxBytes: number;
  label: string;
}

/** What one multipart form may hold. Anything else is refused before it is stored anywhere. */
export interface MultipartLimits {
  /** The whole body, checked from Content-Length before anything is read. */
  maxBytes: number;
  /** The form's file inputs by name; a file part under another name is refused. */
  files: Readonly<Record<string, FileLimit>>;
  /** The longest text field (a pasted key is the longest). */
  maxFieldBytes: number;
  maxFields: number;
}

/** A body that is not the multipart form it claims to be: truncated, aborted, a wrong or missing boundary. */
export const UNREADABLE_FORM_MESSAGE = "The form arrived incomplete or garbled, so it could not be read. Nothing was stored. Reload the page and submit it again.";

const MESSAGES = {
  malformed: UNREADABLE_FORM_MESSAGE,
  fieldTooLarge: (limit: number) => `A text field is longer than this form takes (at most ${formatBytes(limit)}). Nothing was stored.`,
  fileTooLarge: (file: FileLimit) => `${file.label} is larger than allowed: at most ${formatBytes(file.maxBytes)}. Nothing was stored.`,
  unexpectedFile: "The form holds a file this page does not ask for. Nothing was stored. Submit the form from the page.",
  twoFiles: "Attach one file per field. Nothing was stored.",
};

const pending = new WeakMap<FastifyRequest, AsyncIterator<Multipart>>();
const forms = new WeakMap<FastifyRequest, MultipartForm>();

/**
 * Reads the first part of a multipart body, which must be the `_csrf` field, and leaves it
 * where the CSRF check looks (`request.body._csrf`). Nothing after it has been read yet: a
 * file part before the token, or no token, is refused at once.
 */
export async function readTokenPart(request: FastifyRequest, limits: MultipartLimits): Promise<void> {
  const iterator = openParts(request, limits);
  const first = await nextPart(iterator);
  if (!first || first.type !== "field" || first.fieldname !== "_csrf" || typeof first.value !== "string") {
    throw new FormExpiredError("KEYSIGN_ERR_FORM_TOKEN_NOT_FIRST");
  }
  request.body = { _csrf: first.value };
  pending.set(request, iterator);
}

/** A machine API's multipart body (no CSRF token): every part, within the route's limits. */
export async function readAllParts(request: FastifyRequest, limits: MultipartLimits): Promise<void> {
  pending.set(request, openParts(request, limits));
  await readRemainingParts(request, limits);
}

function openParts(request: FastifyRequest, limits: MultipartLimits): AsyncIterator<Multipart> {
  const parts = request.parts({
    limits: {
      fieldNameSize: 100,
      fieldSize: limits.maxFieldBytes,
      fields: limits.maxFields,
      files: Object.keys(limits.files).length,
      // One byte over the largest file, so that our own per-input check is the one that speaks.
      fileSize: Math.max(0, ...Object.values(limits.files).map((file) => file.maxBytes)) + 1,
      parts: limits.maxFields + Object.keys(limits.files).length,
      headerPairs: 20,
    },
  });
  return parts[Symbol.asyncIterator]();
}

/** Reads the rest of the body, once the token passed, within the route's limits. */
export async function readRemainingParts(request: FastifyRequest, limits: MultipartLimits): Promise<void> {
  const iterator = pending.get(request);
  if (!iterator) throw new Error("readRemainingParts called before readTokenPart");
  pending.delete(request);
  const form: MultipartForm = { fields: new Map(), files: new Map() };
  for (let part = await nextPart(iterator); part; part = await nextPart(iterator)) {
    if (part.type === "file") await addFile(form, part, limits);
    else addField(form, part.fieldname, part.value, part.valueTruncated, limits);
  }
  forms.set(request, form);
}

/** The form a multipart route's body held; only for routes that declare a multipart body. */
export function multipartFormOf(request: FastifyRequest): MultipartForm {
  const form = forms.get(request);
  if (!form) throw new Error("multipartFormOf called on a route without a multipart body rule");
  return form;
}

function addField(form: MultipartForm, name: string, value: unknown, truncated: boolean, limits: MultipartLimits): void {
  if (truncated) throw new BodyRefusedError("KEYSIGN_ERR_FIELD_TOO_LARGE", MESSAGES.fieldTooLarge(limits.maxFieldBytes), 413);
  // A part may declare itself JSON, which the parser decodes: a browser never sends one.
  if (typeof value !== "string") throw new BodyRefusedError("KEYSIGN_ERR_FORM_MALFORMED", MESSAGES.malformed, 400);
  form.fields.set(name, [...(form.fields.get(name) ?? []), value]);
}

/** Buffers one file under its input's own limit; an empty file input counts as no file. */
async function addFile(form: MultipartForm, part: MultipartFile, limits: MultipartLimits): Promise<void> {
  const limit = Object.hasOwn(limits.files, part.fieldname) ? limits.files[part.fieldname] : undefined;
  if (!limit) throw new BodyRefusedError("KEYSIGN_ERR_FORM_UNEXPECTED_FILE", MESSAGES.unexpectedFile, 400);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of part.file) {
      size += chunk.length;
      if (size > limit.maxBytes) throw new BodyRefusedError("KEYSIGN_ERR_FILE_TOO_LARGE", MESSAGES.fileTooLarge(limit), 413);
      chunks.push(chunk);
    }
  } catch (error) {
    throw asFormError(error);
  }
  if (part.file.truncated) throw new BodyRefusedError("KEYSIGN_ERR_FILE_TOO_LARGE", MESSAGES.fileTooLarge(limit), 413);
  if (size === 0) return;
  if (form.files.has(part.fieldname)) throw new BodyRefusedError("KEYSIGN_ERR_FORM_TWO_FILES", MESSAGES.twoFiles, 400);
  form.files.set(part.fieldname, { bytes: Buffer.concat(chunks, size), filename: part.filename });
}

async function nextPart(iterator: AsyncIterator<Multipart>): Promise<Multipart | null> {
  try {
    const next = await iterator.next();
    return next.done ? null : next.value;
  } catch (error) {
    throw asFormError(error);
  }
}

/**
 * What the parser throws while reading: its own limits carry stable FST_* codes, which the root
 * error handler maps to messages; anything else from the parser or the socket (a missing or
 * wrong boundary, a truncated or aborted upload) means the body cannot be read, so it is a 400.
 */
function asFormError(error: unknown): unknown {
  if (isKeysignError(error)) return error;
  if (error instanceof Error && "code" in error && typeof error.code === "string" && error.code.startsWith("FST_")) return error;
  return new BodyRefusedError("KEYSIGN_ERR_FORM_MALFORMED", MESSAGES.malformed, 400);
}

export function field(form: MultipartForm, name: string): string {
  return form.fields.get(name)?.[0] ?? "";
}

export function checked(form: MultipartForm, name: string): boolean {
  return field(form, name) === "on";
}

export function fieldList(form: MultipartForm, name: string): string[] {
  return form.fields.get(name) ?? [];
}
