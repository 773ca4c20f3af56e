/**
 * Decides when changes are applied. A change that finds the applier idle is applied at once
 * (no reload is running, so nothing would be gained by waiting). Changes that arrive while a
 * reload runs are coalesced: applied once nothing new came for `quietMs`, but never later than
 * `maxDelayMs` after the first of them, so a constant stream still applies.
 */
export class Coalescer {
  private timer: NodeJS.Timeout | undefined;
  private firstAt: number | undefined;
  private immediate = false;

  constructor(
    private readonly quietMs: number,
    private readonly maxDelayMs: number,
    private readonly fire: (firstAt: number) => void,
    private readonly idle: () => boolean = () => false,
  ) {}

  /** A change arrived now. */
  touch(): void {
    const now = Date.now();
    if (this.immediate) return;
    this.firstAt = this.firstAt ?? now;
    if (this.timer) clearTimeout(this.timer);
    // setTimeout 0 still gathers the changes of the same tick (one store event, many keys).
    this.immediate = this.timer === undefined && this.idle();
    const wait = this.immediate ? 0 : Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxDelayMs - now));
    this.timer = setTimeout(() => this.due(), wait);
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.firstAt = undefined;
    this.immediate = false;
  }

  private due(): void {
    const firstAt = this.firstAt ?? Date.now();
    this.cancel();
    this.fire(firstAt);
  }
}
