/**
 * The `keysign` command. Each command lives in its own file and is loaded only when asked
 * for, so the offline signer's commands never load the database layer.
 */
import { existsSync } from "node:fs";
import { EXIT, type CommandIo } from "./exit-codes.ts";

export const USAGE = `usage: keysign <command> [options]

commands:
  staff create --email ADDRESS --role ROLE [--role ROLE]...
      Prints a one-time link, valid 24 hours, that creates a staff account for ADDRESS
      with the given roles (reviewer, signing_officer, admin). The person opening it
      chooses a password and sets up an authenticator app. Uses DATABASE_URL / DATA_DIR
      like the portal; needs no network.

  audit verify
      Checks the audit log's hash chain and names the first event whose link is broken
      (an edited or deleted row). Uses DATABASE_URL / DATA_DIR like the portal.

  help
      Prints this text.

exit codes:
  0  done
  1  unexpected failure
  2  wrong usage or configuration (the message says what)
  3  the database is missing or not migrated (start the portal once, or run "npm run db:migrate")
  4  refused: a staff account with this address already exists
  5  the audit log's hash chain is broken
`;

type Command = (args: string[], io: CommandIo) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  "staff create": async () => (await import("./staff-create.ts")).staffCreate,
  "audit verify": async () => (await import("./audit-verify.ts")).auditVerify,
};

export async function run(argv: string[], io: CommandIo): Promise<number> {
  const [first, second] = argv;
  if (first === undefined || ["help", "--help", "-h"].includes(first)) {
    (first === undefined ? io.stderr : io.stdout).write(USAGE);
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  const load = COMMANDS[`${first} ${second ?? ""}`];
  if (!load) {
    io.stderr.write(`keysign: unknown command "${[first, second].filter(Boolean).join(" ")}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  return (await load())(argv.slice(2), io);
}

// A .env file beside the project is optional, as for the portal; real environment variables win.
if (existsSync(".env")) process.loadEnvFile(".env");
run(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = EXIT.failure;
  },
);
