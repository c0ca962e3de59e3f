import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { FastifyInstance } from "fastify";

/**
 * pdf.js, served by the portal itself so the review page can render an agreement without any
 * other origin in the CSP. Only the two files the viewer loads are served: the library and its
 * worker (the rest of the package, such as the scripting sandbox, stays unreachable). The
 * version is part of the address, so the files can be cached for a year and an upgrade is
 * fetched anew.
 */
const PACKAGE_JSON = createRequire(import.meta.url).resolve("pdfjs-dist/package.json");
const BUILD_DIR = path.join(path.dirname(PACKAGE_JSON), "build");
const VERSION = readVersion(PACKAGE_JSON);

export const PDFJS_FILES = ["pdf.min.mjs", "pdf.worker.min.mjs"] as const;

/** Where the viewer finds the library and its worker. */
export const PDFJS_URLS = {
  module: `/vendor/pdfjs/${VERSION}/pdf.min.mjs`,
  worker: `/vendor/pdfjs/${VERSION}/pdf.worker.min.mjs`,
} as const;

const ONE_YEAR = 365 * 24 * 60 * 60;

export async function registerPdfjs(app: FastifyInstance): Promise<void> {
  for (const name of PDFJS_FILES) {
    // Read once at start: the files are small, never change while the process runs, and a
    // missing file stops the start rather than failing a reviewer later.
    const bytes = readFileSync(path.join(BUILD_DIR, name));
    app.get(`/vendor/pdfjs/${VERSION}/${name}`, async (_request, reply) =>
      reply
        .header("Content-Type", "text/javascript; charset=utf-8")
        .header("Cache-Control", `public, max-age=${ONE_YEAR}, immutable`)
        .header("X-Content-Type-Options", "nosniff")
        .send(bytes),
    );
  }
}

function readVersion(file: string): string {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  const version = typeof parsed === "object" && parsed !== null && "version" in parsed ? parsed.version : null;
  if (typeof version !== "string" || !/^[0-9][0-9A-Za-z.+-]*$/.test(version)) throw new Error("pdfjs-dist has no readable version");
  return version;
}
