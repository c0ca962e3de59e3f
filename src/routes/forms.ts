import type { Multipart, MultipartFile } from "@fastify/multipart";
import { ValidationError } from "../errors.ts";

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

/**
 * Reads a body parsed with `attachFieldsToBody: true`. Files are already buffered by
 * the parser (under the route's size limit); an empty file input counts as no file.
 */
export async function readMultipartForm(body: unknown): Promise<MultipartForm> {
  if (!body || typeof body !== "object") {
    throw new ValidationError("The form could not be read. Submit it again from the page.", "KEYSIGN_ERR_FORM");
  }
  const form: MultipartForm = { fields: new Map(), files: new Map() };
  for (const [name, entry] of Object.entries(body)) {
    const parts: unknown[] = Array.isArray(entry) ? entry : [entry];
    for (const part of parts) {
      if (!isPart(part)) continue;
      if (part.type === "file") {
        await addFile(form, name, part);
      } else if (typeof part.value === "string") {
        form.fields.set(name, [...(form.fields.get(name) ?? []), part.value]);
      }
    }
  }
  return form;
}

async function addFile(form: MultipartForm, name: string, part: MultipartFile): Promise<void> {
  const bytes = await part.toBuffer();
  if (bytes.length === 0) return;
  if (form.files.has(name)) throw new ValidationError("Attach one file per field.", "KEYSIGN_ERR_FORM");
  form.files.set(name, { bytes, filename: part.filename });
}

function isPart(value: unknown): value is Multipart {
  return typeof value === "object" && value !== null && "type" in value && (value.type === "file" || value.type === "field");
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
