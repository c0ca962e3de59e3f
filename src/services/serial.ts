/**
 * Runs tasks one after another. Exports and imports go through one of these so that
 * concurrent clicks in this process produce exactly one effect; the database's conditional
 * updates make the same true across processes.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
