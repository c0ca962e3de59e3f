import type { ServiceContext } from "./context.ts";

/** Staff review of requests: decisions, approval quorum, notes. */
export class ReviewService {
  constructor(private readonly ctx: ServiceContext) {}

  get context(): ServiceContext {
    return this.ctx;
  }
}
