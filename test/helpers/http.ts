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

  async postMultipart(url: string, parts: MultipartPart[], pageUrl = "/"): Promise<LightMyRequestResponse> {
    const csrf = await this.csrfFrom(pageUrl);
    const { body, contentType } = multipartBody([{ name: "_csrf", value: csrf }, ...parts]);
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
    const page = await this.get(pageUrl);
    const match = /name="_csrf" value="([^"]+)"/.exec(page.body);
    if (!match?.[1]) throw new Error(`no CSRF token on ${pageUrl} (status ${page.statusCode})`);
    return match[1];
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
