/** The steps of a download: `download` moves network bytes; `patch` and `extract` write disk bytes. */
export type ProgressPhase = 'download' | 'patch' | 'extract';

/** One phase's own numbers, as its meter measures them. */
export interface PhaseProgress {
  phase: ProgressPhase;
  /**
   * Bytes of this phase done: in `download` from the network (a file resumed or already cached counts as
   * done), in `patch` the new tar written, in `extract` the tar unpacked.
   */
  transferred: number;
  /** Bytes of this phase in all. */
  total: number;
  /** This phase alone, 0 to 100. */
  phasePercent: number;
  /** Bytes of this phase since its previous event (electron-updater's `delta`). */
  delta: number;
  /** This phase's rate over the last few seconds. */
  bytesPerSecond: number;
}

/** Where an update is, reported to `downloadUpdate`'s `onProgress` (and by the updater's `download-progress`). */
export interface Progress extends PhaseProgress {
  /**
   * The whole update, 0 to 100, across its phases: it only grows, and reaches 100 when the update is
   * staged. Each phase fills its share ({@link PHASE_WEIGHTS}); a fallback from patches to the full
   * archive fills what is left, never going back. Feed a progress bar with this.
   */
  percent: number;
  /** Network bytes received so far for this update (files already cached or resumed count), never disk bytes. */
  downloaded: number;
  /** Network bytes to receive in all: the plan's download size, plus the full archive after a fallback. */
  downloadSize: number;
}

/**
 * Each phase's share of {@link Progress.percent}, by the plan's strategy. Rough shares of the time each
 * phase takes, from the client benchmark (docs/client-core.md: a 160 MiB bundle, patch 1.6 s and
 * extract 0.7 s against a patch download of a few MiB; a full download is dominated by the network).
 */
export const PHASE_WEIGHTS: Readonly<Record<'patch' | 'full', Readonly<Partial<Record<ProgressPhase, number>>>>> = {
  patch: { download: 30, patch: 50, extract: 20 },
  full: { download: 90, extract: 10 },
};

/** Progress events at most this often, plus the last one of each phase: enough for a UI, cheap over IPC. */
const MIN_INTERVAL_MS = 100;
/** The rate is measured over this window. */
const RATE_WINDOW_MS = 3_000;

/** Turns byte counts of one phase into throttled {@link PhaseProgress} events with a rate. */
export class ProgressMeter {
  private samples: [number, number][] = [];
  private lastEmit = -Infinity;
  private last = 0;
  private emitted = -1;

  constructor(
    private readonly phase: ProgressPhase,
    private readonly total: number,
    private readonly onProgress: ((p: PhaseProgress) => void) | undefined,
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
    const delta = Math.max(0, transferred - Math.max(0, this.emitted));
    this.lastEmit = now;
    this.emitted = transferred;
    const [t0, b0] = this.samples[0] ?? [now, transferred];
    const seconds = (now - t0) / 1000;
    const bytesPerSecond = seconds > 0 ? Math.max(0, Math.round((transferred - b0) / seconds)) : 0;
    const phasePercent = this.total > 0 ? Math.min(100, (transferred / this.total) * 100) : 100;
    this.onProgress?.({ phase: this.phase, transferred, total: this.total, phasePercent, delta, bytesPerSecond });
  }
}

/**
 * The whole update's progress from its phases' events: one `percent` that only grows, and the network
 * bytes apart from the disk bytes. Made per `downloadUpdate` with the plan's strategy and download size;
 * it notices a fallback to the full archive (a download after the patch phase, or a download of another
 * size) by itself, and maps what is left of the update onto what is left of the bar.
 */
export class UpdateProgress {
  private weights: Readonly<Partial<Record<ProgressPhase, number>>>;
  /** Where the current plan's bar starts (after a fallback, where the bar was). */
  private base = 0;
  private percent = 0;
  private phase: ProgressPhase | undefined;
  private phaseTotal = 0;
  /** Network bytes of the download phases that ended, and of the current or last one. */
  private downloadedBefore = 0;
  private downloadedNow = 0;
  private downloadSize: number;

  constructor(
    strategy: 'patch' | 'full',
    downloadSize: number,
    private readonly onProgress: (p: Progress) => void,
  ) {
    this.weights = PHASE_WEIGHTS[strategy];
    this.downloadSize = downloadSize;
  }

  /** Receives one phase event (a {@link ProgressMeter}'s) and reports the update's. */
  readonly report = (p: PhaseProgress): void => {
    if (p.phase === 'download' && this.phase !== undefined && (this.phase !== 'download' || p.total !== this.phaseTotal)) this.fallBack(p.total);
    this.phase = p.phase;
    this.phaseTotal = p.total;
    if (p.phase === 'download') this.downloadedNow = p.transferred;
    const [start, end] = this.range(p.phase);
    this.percent = Math.min(100, Math.max(this.percent, start + ((end - start) * p.phasePercent) / 100));
    this.onProgress({ ...p, percent: this.percent, downloaded: this.downloadedBefore + this.downloadedNow, downloadSize: this.downloadSize });
  };

  /** The patches were given up for the full archive: the rest of the bar is the archive's download and extraction. */
  private fallBack(archiveSize: number): void {
    this.downloadedBefore += this.downloadedNow;
    this.downloadedNow = 0;
    this.downloadSize = this.downloadedBefore + archiveSize;
    this.weights = PHASE_WEIGHTS.full;
    this.base = this.percent;
  }

  /** Where `phase` fills the bar: its share of what the current plan has, after the phases before it. */
  private range(phase: ProgressPhase): [number, number] {
    const order: ProgressPhase[] = ['download', 'patch', 'extract'];
    const sum = order.reduce((s, name) => s + (this.weights[name] ?? 0), 0);
    const scale = (100 - this.base) / (sum > 0 ? sum : 1);
    let start = this.base;
    for (const name of order) {
      const width = (this.weights[name] ?? 0) * scale;
      if (name === phase) return [start, start + width];
      start += width;
    }
    return [start, start];
  }
}
