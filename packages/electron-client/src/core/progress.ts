/** Where an update is, reported to `downloadUpdate`'s `onProgress`. */
export interface Progress {
  /** `download`: bytes from the network; `patch`: bytes of new tar written; `extract`: tar bytes unpacked. */
  phase: 'download' | 'patch' | 'extract';
  /** Bytes of this phase done (a resumed download counts the bytes it already had). */
  transferred: number;
  /** Bytes of this phase in all. */
  total: number;
  /** Recent rate, over the last few seconds. */
  bytesPerSecond: number;
  /** 0 to 100. */
  percent: number;
}

/** Progress events at most this often, plus the last one of each phase: enough for a UI, cheap over IPC. */
const MIN_INTERVAL_MS = 100;
/** The rate is measured over this window. */
const RATE_WINDOW_MS = 3_000;

/** Turns byte counts of one phase into throttled {@link Progress} events with a rate. */
export class ProgressMeter {
  private samples: [number, number][] = [];
  private lastEmit = -Infinity;
  private last = 0;
  private emitted = -1;

  constructor(
    private readonly phase: Progress['phase'],
    private readonly total: number,
    private readonly onProgress: ((p: Progress) => void) | undefined,
  ) {}

  /** Records that `transferred` bytes of the phase are done. */
  update(transferred: number): void {
    if (this.onProgress === undefined) return;
    this.last = transferred;
    const now = performance.now();
    this.samples.push([now, transferred]);
    while (this.samples.length > 2 && now - (this.samples[0]?.[0] ?? now) > RATE_WINDOW_MS) this.samples.shift();
    if (now - this.lastEmit >= MIN_INTERVAL_MS || transferred >= this.total) this.emit(now);
  }

  /** Sends the final state of the phase, whatever the throttle says. */
  finish(): void {
    if (this.onProgress !== undefined && this.emitted !== this.total) this.emit(performance.now(), this.total);
  }

  private emit(now: number, transferred = this.last): void {
    this.lastEmit = now;
    this.emitted = transferred;
    const [t0, b0] = this.samples[0] ?? [now, transferred];
    const seconds = (now - t0) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, Math.round((transferred - b0) / seconds)) : 0;
    const percent = this.total > 0 ? Math.min(100, (transferred / this.total) * 100) : 100;
    this.onProgress?.({ phase: this.phase, transferred, total: this.total, bytesPerSecond, percent });
  }
}
