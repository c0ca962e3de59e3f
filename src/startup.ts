/**
 * Start-up faults a person can fix: a data folder that cannot be written, a damaged file, a
 * port in use. Each becomes one line that names the file or port and says what to do, and the
 * process exits non-zero; only a fault nobody foresaw prints a stack trace.
 */
export class StartupError extends Error {
  override name = "StartupError";
}

/** What an operating system error means to the person starting the portal. */
const FS_REASONS: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "the operation is not permitted there",
  EROFS: "the file system is read-only",
  ENOSPC: "the disk is full",
  EDQUOT: "the disk quota is used up",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "a file of that name is in the way",
  EISDIR: "it is a directory, not a file",
};

function codeOf(error: unknown): string | null {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : null;
}

/** A file system error as a StartupError naming `what`; anything else is returned unchanged. */
export function explainFsError(error: unknown, what: string, advice: string): unknown {
  const code = codeOf(error);
  const reason = code === null ? undefined : FS_REASONS[code];
  return reason === undefined ? error : new StartupError(`${what}: ${reason}. ${advice}`);
}

/** The last net for errors thrown before any step could name them: file system errors with a path, a port in use. */
export function explainUnexpected(error: unknown, listen: { host: string; port: number }): StartupError | null {
  const code = codeOf(error);
  if (code === "EADDRINUSE") return new StartupError(`port ${listen.port} on ${listen.host} is already in use: stop the program using it, or set PORT to a free port.`);
  if (code === "EADDRNOTAVAIL") return new StartupError(`${listen.host} is not an address of this machine: set HOST to one of its addresses (127.0.0.1 or 0.0.0.0).`);
  const file = error instanceof Error && "path" in error && typeof error.path === "string" ? error.path : null;
  const explained = file === null ? error : explainFsError(error, `cannot use ${file}`, "Check the data directory (DATA_DIR), its owner and free space.");
  return explained instanceof StartupError ? explained : null;
}
