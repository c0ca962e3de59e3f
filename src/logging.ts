/**
 * What a request log line may say about a request. One-time links carry their token in the
 * query string (sign-in, address confirmation, staff invitation, first-admin setup), and a
 * token in a log can be replayed by whoever reads the log before the owner clicks; so no
 * query value is ever logged, only the names of the parameters, and only names that look like
 * names. The path is the matched route's pattern (`/requests/:id`), never what was typed: a
 * mangled link (`/sign-in/link%3Ftoken=…`) matches no route and is logged as such.
 */
import type { FastifyRequest } from "fastify";

const MAX_LOGGED_URL = 300;

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,39}$/;

/** The route's pattern (or "(no route)"), and the query's parameter names with their values left out. */
export function loggedUrl(url: string, routePattern: string | undefined): string {
  const path = routePattern ?? "(no route)";
  const mark = url.indexOf("?");
  if (mark === -1) return path;
  // A "name" without "=" may be the value itself (`/sign-in/link?TOKEN`): only name-shaped names are kept.
  const names = url
    .slice(mark + 1)
    .split("&")
    .map((pair) => (pair.includes("=") ? (pair.split("=")[0] ?? "") : ""))
    .map((name) => (NAME.test(name) ? `${name}=…` : "…"));
  return `${path}?${names.join("&")}`.slice(0, MAX_LOGGED_URL);
}

/** Replaces pino's request serializer: the same fields, with the URL made safe. */
export function serializeRequest(request: FastifyRequest): Record<string, unknown> {
  return {
    method: request.method,
    url: loggedUrl(request.url, request.is404 ? undefined : request.routeOptions?.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}
