import { Readable } from "node:stream";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";

/** A browser-like client for `app.inject`: keeps cookies and reads CSRF tokens from forms. */
export class Browser {
  private cookies = new Map<string, string>();

  constructor(private readonly app: FastifyInstance) {}

  async get(url: string): Promise<LightMyRequestResponse> {
    const response = await this.app.inject({ method: "GET", url, headers: this.headers() });
    this.keep(response);
    return response;
  }

  /** GETs `pageUrl` for its CSRF token, then posts the urlencoded form. */
  async postForm(url: string, fields: Record<string, string | string[]>, pageUrl = "/"): Promise<LightMyRequestResponse> {
    const csrf = await this.csrfFrom(pageUrl);
    const body = new URLSearchParams();
    body.append("_csrf", csrf);
    for (const [name, value] of Object.entries(fields)) {
      for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
    }
    const response = await this.app.inject({
      method: "POST",
      url,
      headers: { ...this.headers(), "content-type": "application/x-www-form-urlencoded" },
      payload: body.toString(),
    });
    this.keep(response);
    return response;
  }

  /**
   * GETs `pageUrl` for its CSRF token (sent first, as forms do) and, when the page has one and
   * `parts` do not, its single-use request form token; then posts the multipart form.
   */
  async postMultipart(url: string, parts: MultipartPart[], pageUrl = "/"): Promise<LightMyRequestResponse> {
    const { csrf, formToken } = await this.formTokensFrom(pageUrl);
    const carried = formToken && !parts.some((part) => part.name === "formToken") ? [{ name: "formToken", value: formToken }] : [];
    const { body, contentType } = multipartBody([{ name: "_csrf", value: csrf }, ...carried, ...parts]);
    const response = await this.app.inject({
      method: "POST",
      url,
      headers: { ...this.headers(), "content-type": contentType },
      payload: body,
    });
    this.keep(response);
    return response;
  }

  async csrfFrom(pageUrl: string): Promise<string> {
    return (await this.formTokensFrom(pageUrl)).csrf;
  }

  /** The CSRF token of the page's form, and its request form token if it has one. */
  async formTokensFrom(pageUrl: string): Promise<{ csrf: string; formToken: string | undefined }> {
    const page = await this.get(pageUrl);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.body);
    if (!match?.[1]) throw new Error(`no CSRF token on ${pageUrl} (status ${page.statusCode})`);
    return { csrf: match[1], formToken: /name="formToken" value="([^"]+)"/.exec(page.body)?.[1] };
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  private headers(): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return cookie ? { cookie } : {};
  }

  private keep(response: LightMyRequestResponse): void {
    for (const c of response.cookies) {
      if (c.value === "" || (c.expires && c.expires.getTime() < Date.now() && c.expires.getTime() <= 0)) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
  }
}

export type MultipartPart = { name: string; value: string } | { name: string; filename: string; content: Uint8Array; contentType?: string };

export function multipartBody(parts: MultipartPart[]): { body: Buffer; contentType: string } {
  const boundary = `----keysign${Math.random().toString(16).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\n`));
    if ("filename" in part) {
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.contentType ?? "application/octet-stream"}\r\n\r\n`));
      chunks.push(Buffer.from(part.content));
    } else {
      chunks.push(Buffer.from(`Content-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}`));
    }
    chunks.push(Buffer.from("\r\n"));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The log lines at error level or above (pino's 50 and 60): an expected refusal never writes one. */
export function errorLines(logs: readonly string[]): string[] {
  return logs.filter((line) => {
    const level: unknown = JSON.parse(line).level;
    return typeof level === "number" && level >= 50;
  });
}

/**
 * A request body produced on demand: `head`, then zero bytes up to `total`. `pulled` says how
 * much of it the server has taken, so a test can prove a body was refused without being read.
 */
export class MeteredBody extends Readable {
  pulled = 0;

  constructor(
    private readonly head: Uint8Array,
    readonly total: number,
  ) {
    super();
  }

  override _read(): void {
    if (this.pulled >= this.total) {
      this.push(null);
      return;
    }
    const chunk = this.pulled === 0 ? Buffer.from(this.head) : Buffer.alloc(Math.min(64 * 1024, this.total - this.pulled));
    this.pulled += chunk.length;
    this.push(chunk);
  }
}
