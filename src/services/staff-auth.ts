import type { ServiceContext } from "./context.ts";

/** Staff accounts and their authentication. */
export class StaffAuthService {
  constructor(private readonly ctx: ServiceContext) {}

  get context(): ServiceContext {
    return this.ctx;
  }
}
