/**
 * Decides when a burst of changes is applied: once nothing new came for `quietMs`, but never
 * later than `maxDelayMs` after the first pending change, so a constant stream still applies.
 */
export class Coalescer {
  private timer: NodeJS.Timeout | undefined;
  private firstAt: number | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly maxDelayMs: number,
    private readonly fire: (firstAt: number) => void,
  ) {}

  /** A change arrived now. */
  touch(): void {
    const now = Date.now();
    this.firstAt = this.firstAt ?? now;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxDelayMs - now));
    this.timer = setTimeout(() => this.due(), wait);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.firstAt = undefined;
  }

  private due(): void {
    const firstAt = this.firstAt ?? Date.now();
    this.timer = undefined;
    this.firstAt = undefined;
    this.fire(firstAt);
  }
}
