/**
 * A small seeded generator (mulberry32) for the tests that kill processes at random moments: the same
 * seed gives the same moments, so a failing run can be replayed from the seed it printed.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The seed of a randomized test: `process.env[name]` when set (a replay), else a fresh one. */
export function seedFrom(name: string): number {
  const given = process.env[name];
  return given !== undefined && given !== '' ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}
