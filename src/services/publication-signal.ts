/**
 * Tells whoever keeps a copy of the published keys (the static export, the pushes to upstream
 * keyservers) that they changed. Raised after the transaction that changed them commits;
 * listeners work from the database, so a missed signal is caught up by the next one.
 */
export class PublicationSignal {
  private readonly listeners = new Set<() => void>();

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    for (const listener of this.listeners) listener();
  }
}
