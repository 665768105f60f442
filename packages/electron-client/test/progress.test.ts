import { describe, expect, it } from 'vitest';
import { PHASE_WEIGHTS, ProgressMeter, UpdateProgress, type PhaseProgress, type Progress } from '../src/core/progress.js';

/** A phase event as a meter reports it. */
function phase(name: PhaseProgress['phase'], transferred: number, total: number): PhaseProgress {
  return { phase: name, transferred, total, phasePercent: total > 0 ? (100 * transferred) / total : 100, delta: 0, bytesPerSecond: 0 };
}

function run(strategy: 'patch' | 'full', downloadSize: number, events: PhaseProgress[]): Progress[] {
  const seen: Progress[] = [];
  const progress = new UpdateProgress(strategy, downloadSize, (p) => seen.push(p));
  for (const event of events) progress.report(event);
  return seen;
}

describe('the whole update\'s progress', () => {
  it('fills the bar once across download, patch and extract, by the documented weights', () => {
    const seen = run('patch', 1000, [phase('download', 500, 1000), phase('download', 1000, 1000), phase('patch', 4000, 8000), phase('patch', 8000, 8000), phase('extract', 8000, 8000)]);
    const { download = 0, patch = 0 } = PHASE_WEIGHTS.patch;
    expect(seen.map((p) => p.percent)).toEqual([download / 2, download, download + patch / 2, download + patch, 100]);
    // The phase's own numbers stay as they were.
    expect(seen[2]).toMatchObject({ phase: 'patch', transferred: 4000, total: 8000, phasePercent: 50 });
  });

  it('names network bytes apart from disk bytes: downloaded stays put while the patch writes', () => {
    const seen = run('patch', 1000, [phase('download', 1000, 1000), phase('patch', 8000, 8000), phase('extract', 8000, 8000)]);
    expect(seen.map((p) => [p.downloaded, p.downloadSize])).toEqual([
      [1000, 1000],
      [1000, 1000],
      [1000, 1000],
    ]);
  });

  it('never goes back when the patches are given up for the full archive: the rest of the bar is the archive\'s', () => {
    const seen = run('patch', 1000, [phase('download', 1000, 1000), phase('patch', 2000, 8000), phase('download', 0, 50_000), phase('download', 50_000, 50_000), phase('extract', 8000, 8000)]);
    const percents = seen.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(percents.at(-1)).toBe(100);
    // The archive's download fills 90 % of what was left after the patch phase stopped.
    const stopped = percents[1] ?? 0;
    expect(percents[3]).toBeCloseTo(stopped + ((100 - stopped) * (PHASE_WEIGHTS.full.download ?? 0)) / 100);
    expect(seen.at(-1)).toMatchObject({ downloaded: 51_000, downloadSize: 51_000 });
  });

  it('a full download is mostly the network', () => {
    const seen = run('full', 50_000, [phase('download', 25_000, 50_000), phase('download', 50_000, 50_000), phase('extract', 8000, 8000)]);
    expect(seen.map((p) => p.percent)).toEqual([45, 90, 100]);
  });
});

describe('a phase\'s meter', () => {
  it('reports how many bytes came since its previous event (delta), and ends at 100', () => {
    const seen: PhaseProgress[] = [];
    const meter = new ProgressMeter('download', 300, (p) => seen.push(p));
    meter.update(100);
    meter.update(300);
    meter.finish();
    expect(seen.map((p) => [p.transferred, p.delta, p.phasePercent])).toEqual([
      [100, 100, (100 / 300) * 100],
      [300, 200, 100],
    ]);
  });
});
