/** Exit codes of the `keysign` command, as its --help lists them. */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  databaseNotReady: 3,
  refused: 4,
  auditBroken: 5,
} as const;

/** What a command may touch of its process, so tests can run it in-process too. */
export interface CommandIo {
  env: Record<string, string | undefined>;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}
