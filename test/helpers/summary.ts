/** One row of the suite's summary: what was tried, what should happen, what did. */
export interface Row {
  case: string;
  expected: string;
  observed: string;
}

/**
 * Collects one row per case and prints them as a table when the file's tests are done, so a reader sees
 * every attack and fault with its outcome at a glance. Tests record what they observed before asserting,
 * so a failing case shows up in the table too.
 */
export class Summary {
  private readonly rows: Row[] = [];

  constructor(private readonly title: string) {}

  record(row: Row): void {
    this.rows.push(row);
  }

  table(): string {
    const header: Row = { case: 'case', expected: 'expected', observed: 'observed' };
    const all = [header, ...this.rows];
    const width = (key: keyof Row): number => Math.max(...all.map((r) => r[key].length));
    const w = { case: width('case'), expected: width('expected'), observed: width('observed') };
    const line = (r: Row): string => `| ${r.case.padEnd(w.case)} | ${r.expected.padEnd(w.expected)} | ${r.observed.padEnd(w.observed)} |`;
    const rule = `|${'-'.repeat(w.case + 2)}|${'-'.repeat(w.expected + 2)}|${'-'.repeat(w.observed + 2)}|`;
    return [`\n${this.title}`, line(header), rule, ...this.rows.map(line), ''].join('\n');
  }

  print(): void {
    process.stdout.write(`${this.table()}\n`);
  }
}
