/**
 * An upstream keyserver in-process: a node `http` server on 127.0.0.1 that records every
 * `POST /pks/add` and answers as told (accept, refuse with a status, redirect, or never answer).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedPost {
  method: string;
  path: string;
  contentType: string;
  keytext: string;
}

/** A status with a body; "never" holds the request open; "endless" sends a 500 whose body never ends. */
export type ReceiverAnswer = { status: number; body?: string; headers?: Record<string, string> } | "never" | "endless";

export class HkpReceiver {
  readonly posts: ReceivedPost[] = [];
  /** How the next posts are answered. */
  answer: ReceiverAnswer = { status: 200, body: "Key added" };
  private server: Server | null = null;
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  /** Requests left unanswered ("never"), ended by stop(). */
  private readonly held = new Set<ServerResponse>();

  /** Starts listening; returns the keyserver URL for PUBLISH_KEYSERVERS. */
  async start(): Promise<string> {
    const server = createServer((request, response) => void this.receive(request, response));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `hkp://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Resolves once `count` posts in all have arrived (the test fails by its own timeout otherwise). */
  async received(count: number): Promise<ReceivedPost[]> {
    if (this.posts.length < count) await new Promise<void>((resolve) => this.waiters.push({ count, resolve }));
    return this.posts.slice(0, count);
  }

  async stop(): Promise<void> {
    for (const response of this.held) response.destroy();
    this.held.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Writes 64 KiB chunks for as long as the client reads them. */
  private endless(response: ServerResponse): void {
    this.held.add(response);
    response.writeHead(500, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(64 * 1024, "x");
    const more = () => {
      while (!response.destroyed && response.write(chunk));
      if (!response.destroyed) response.once("drain", more);
    };
    response.on("close", () => this.held.delete(response));
    more();
  }

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    this.posts.push({
      method: request.method ?? "",
      path: request.url ?? "",
      contentType: request.headers["content-type"] ?? "",
      keytext: new URLSearchParams(body).get("keytext") ?? "",
    });
    const answer = this.answer;
    if (answer === "never") this.held.add(response);
    else if (answer === "endless") this.endless(response);
    else response.writeHead(answer.status, { "content-type": "text/html", ...answer.headers }).end(answer.body ?? "");
    for (const waiter of this.waiters.filter((w) => this.posts.length >= w.count)) waiter.resolve();
    this.waiters = this.waiters.filter((w) => this.posts.length < w.count);
  }
}
