/**
 * What a request log line may say about a request. One-time links carry their token in the
 * query string (sign-in, address confirmation, staff invitation, first-admin setup), and a
 * token in a log can be replayed by whoever reads the log before the owner clicks; so no
 * query value is ever logged, only the names of the parameters.
 */
import type { FastifyRequest } from "fastify";

const MAX_LOGGED_URL = 300;

/** The path as requested, and the query's parameter names with their values left out. */
export function loggedUrl(url: string): string {
  const mark = url.indexOf("?");
  if (mark === -1) return url.slice(0, MAX_LOGGED_URL);
  const names = url
    .slice(mark + 1)
    .split("&")
    .map((pair) => pair.split("=")[0] ?? "")
    .filter((name) => name !== "");
  return `${url.slice(0, mark)}?${names.map((name) => `${name}=…`).join("&")}`.slice(0, MAX_LOGGED_URL);
}

/** Replaces pino's request serializer: the same fields, with the URL made safe. */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: loggedUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
