import { SMTPServer, type SMTPServerDataStream } from "smtp-server";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/**
 * A real SMTP server in the test process. `down` makes it refuse every message with a
 * temporary 451, as a mail server in trouble does; `permanent` refuses with 550. A message to
 * an address in `stallFor` is read to the end and never answered, as a stalled server does; it
 * is kept in `stalled`.
 */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  mode: "up" | "down" | "permanent" = "up";
  readonly stallFor = new Set<string>();
  readonly stalled: ReceivedMail[] = [];
  private readonly server: SMTPServer;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        if (to.some((address) => this.stallFor.has(address))) return this.stall(stream, to);
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          if (this.mode === "down") return callback(Object.assign(new Error("Service temporarily unavailable"), { responseCode: 451 }));
          if (this.mode === "permanent") return callback(Object.assign(new Error("Mailbox unavailable"), { responseCode: 550 }));
          this.received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString("utf8"),
          });
          callback();
        });
      },
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.server.address() as AddressInfo;
    return `smtp://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private stall(stream: SMTPServerDataStream, to: string[]): void {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => this.stalled.push({ from: "", to, raw: Buffer.concat(chunks).toString("utf8") }));
  }
}

/** Waits (up to `timeoutMs`) until a message to `address` is stalled in the server. */
export async function waitForStall(smtp: TestSmtpServer, address: string, timeoutMs = 10_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = smtp.stalled.find((m) => m.to.includes(address));
    if (mail) return mail;
    if (Date.now() > deadline) throw new Error(`timed out waiting for a stalled email to ${address}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A TCP server where an SMTP server should be, misbehaving below the SMTP level: `silent`
 * accepts connections and never greets; `dribble` greets, then answers EHLO one byte at a time
 * and never finishes. Counts connections, and the most open at once.
 */
export class RawSmtpServer {
  accepted = 0;
  peakOpen = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(readonly behaviour: "silent" | "dribble") {
    this.server = createServer((socket) => this.accept(socket));
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    return `smtp://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.accepted += 1;
    this.sockets.add(socket);
    this.peakOpen = Math.max(this.peakOpen, this.sockets.size);
    let timer: NodeJS.Timeout | null = null;
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (timer) clearInterval(timer);
      this.sockets.delete(socket);
    });
    if (this.behaviour === "silent") return;
    socket.write("220 raw.test ESMTP\r\n");
    socket.once("data", () => {
      socket.write("250-");
      timer = setInterval(() => socket.write("x"), 200);
    });
  }
}

/** The decoded text of a received message (quoted-printable soft breaks removed). */
export function mailText(mail: ReceivedMail): string {
  return mail.raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
}

export function findLink(mail: ReceivedMail, pathPrefix: string): string {
  const match = new RegExp(`https?://[^\\s"<>]+${pathPrefix.replace(/[/?]/g, "\\$&")}[^\\s"<>]*`).exec(mailText(mail));
  if (!match) throw new Error(`no link to ${pathPrefix} in mail`);
  return match[0];
}

/** Waits (up to 10 s) for the delivery worker to hand an email for `address` to the server. */
export async function waitForMail(smtp: TestSmtpServer, address: string, timeoutMs = 10_000): Promise<ReceivedMail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = smtp.received.find((m) => m.to.includes(address));
    if (mail) return mail;
    if (Date.now() > deadline) throw new Error(`timed out waiting for an email to ${address}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ReceivedAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

/** The attachments of a received message, decoded: a small MIME reader for what nodemailer writes. */
export function mailAttachments(mail: ReceivedMail | string): ReceivedAttachment[] {
  return leafParts(typeof mail === "string" ? mail : mail.raw).flatMap((part) => {
    const disposition = headerValue(part.headers, "content-disposition");
    if (!disposition || !/^attachment/i.test(disposition)) return [];
    const filename = parameter(disposition, "filename") ?? "";
    const contentType = (headerValue(part.headers, "content-type") ?? "").split(";")[0]?.trim() ?? "";
    const encoding = (headerValue(part.headers, "content-transfer-encoding") ?? "7bit").toLowerCase();
    if (encoding !== "base64" && encoding !== "7bit") throw new Error(`unexpected transfer encoding ${encoding}`);
    const content = encoding === "base64" ? Buffer.from(part.body.replace(/\s+/g, ""), "base64") : Buffer.from(part.body, "utf8");
    return [{ filename, contentType, content }];
  });
}

function leafParts(entity: string): Array<{ headers: string; body: string }> {
  const split = /\r?\n\r?\n/.exec(entity);
  const headers = split ? entity.slice(0, split.index) : entity;
  const body = split ? entity.slice(split.index + split[0].length) : "";
  const type = headerValue(headers, "content-type") ?? "";
  const boundary = /^multipart\//i.test(type) ? parameter(type, "boundary") : null;
  if (!boundary) return [{ headers, body }];
  const pieces = body.split(new RegExp(`\\r?\\n?--${boundary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?:--)?[ \\t]*\\r?\\n?`));
  // The first piece is the preamble, the last the epilogue.
  return pieces.slice(1, -1).flatMap(leafParts);
}

function headerValue(headers: string, name: string): string | null {
  const unfolded = headers.replace(/\r?\n[ \t]+/g, " ");
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, "im").exec(unfolded);
  return match?.[1]?.trim() ?? null;
}

function parameter(value: string, name: string): string | null {
  const match = new RegExp(`;\\s*${name}="?([^";]+)"?`, "i").exec(value);
  return match?.[1] ?? null;
}
