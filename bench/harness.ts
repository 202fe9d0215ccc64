/** Tiny benchmark helpers: time-boxed loops and the ratio lines every bench prints. */

export interface Rate {
  readonly iterations: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly msEach: number;
}

/** Runs `fn` repeatedly for about `seconds` after `warmup` untimed calls. */
export async function measure(seconds: number, fn: () => unknown | Promise<unknown>, warmup = 3): Promise<Rate> {
  for (let i = 0; i < warmup; i++) await fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    await fn();
    n++;
  }
  const s = (performance.now() - t0) / 1000;
  return { iterations: n, seconds: s, perSecond: n / s, msEach: (s * 1000) / n };
}

export function line(label: string, value: string): void {
  process.stdout.write(`  ${label.padEnd(52)} ${value}\n`);
}

export function ratio(label: string, value: number, target: number, higherIsBetter = true): void {
  const ok = higherIsBetter ? value >= target : value <= target;
  line(label, `${value.toFixed(3)}  (target ${higherIsBetter ? '>=' : '<='} ${target}) ${ok ? 'OK' : 'BELOW TARGET'}`);
}

export function header(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}
