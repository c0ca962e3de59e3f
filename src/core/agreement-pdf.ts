import { createHash } from "node:crypto";

export const MAX_AGREEMENT_BYTES = 10 * 1024 * 1024;

export interface AgreementProblem {
  code: string;
  message: string;
}

const PDF_MAGIC = Buffer.from("%PDF-", "latin1");
const EOF_MARKER = Buffer.from("%%EOF", "latin1");
// The standard security handler is declared with /Encrypt in the trailer; an encrypted
// agreement cannot be read by staff, so it is refused rather than stored.
const ENCRYPT_KEY = /\/Encrypt[\s/<[]/;

/**
 * Content decides what a file is: the client's file name and content type are ignored.
 * A PDF starts with `%PDF-` at offset 0 (no leading junk, which is how polyglots and
 * archives in disguise begin) and carries an end-of-file marker (not truncated).
 */
export function checkAgreementPdf(bytes: Uint8Array): AgreementProblem | null {
  if (bytes.length === 0) {
    return { code: "KEYSIGN_ERR_AGREEMENT_MISSING", message: "Attach the executed Key Signing Agreement as a PDF file." };
  }
  if (bytes.length > MAX_AGREEMENT_BYTES) {
    return { code: "KEYSIGN_ERR_AGREEMENT_TOO_LARGE", message: "The agreement is larger than 10 MiB. Save it again with smaller images and upload that file." };
  }
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buffer.subarray(0, PDF_MAGIC.length).equals(PDF_MAGIC)) {
    return { code: "KEYSIGN_ERR_AGREEMENT_NOT_PDF", message: "The agreement is not a PDF file. Upload the signed agreement saved as PDF (not an image, document or archive)." };
  }
  if (buffer.lastIndexOf(EOF_MARKER) === -1) {
    return { code: "KEYSIGN_ERR_AGREEMENT_TRUNCATED", message: "The agreement PDF is incomplete (it has no end-of-file marker). Save or download it again and upload the complete file." };
  }
  if (ENCRYPT_KEY.test(buffer.toString("latin1"))) {
    return { code: "KEYSIGN_ERR_AGREEMENT_ENCRYPTED", message: "The agreement PDF is encrypted or password-protected. Save it without a password and sign that file." };
  }
  return null;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The client's file name is only ever displayed, never used as a path: keep the last
 * path segment, drop control, bidi and zero-width characters, cap the length.
 */
export function displayFileName(name: string | undefined): string {
  const base = (name ?? "").split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, "").trim().slice(0, 120);
  return clean || "agreement.pdf";
}
