import { KeysignError } from "../../errors.ts";

/** A transfer file that cannot be trusted or used; the message says which rule it broke. */
export class TransferError extends KeysignError {
  override name = "TransferError";
  constructor(code: string, message: string, statusCode = 422) {
    super(code, message, statusCode);
  }
}
