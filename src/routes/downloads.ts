import type { FastifyReply } from "fastify";

/** An armored OpenPGP key as a download. The file name is always ours, never user text. */
export function sendKeyFile(reply: FastifyReply, file: { filename: string; armored: string }): FastifyReply {
  return reply
    .header("Content-Type", "application/pgp-keys")
    .header("Content-Disposition", `attachment; filename="${file.filename}"`)
    .header("X-Content-Type-Options", "nosniff")
    .send(file.armored);
}
