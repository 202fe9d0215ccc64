/**
 * `npm run licenses`: an offline licence check over what Driftline ships (the production dependency
 * tree, from npm's own view of node_modules: `npm ls --omit=dev --all --json --long`). It fails on a
 * network-copyleft licence (AGPL, SSPL) or a package whose licence it cannot read, and prints the
 * count per licence. The registry's audit endpoint is out of reach on the build machines, so this
 * runs instead of `npm audit`, in scripts/test.sh.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Pkg {
  readonly name: string;
  readonly version: string;
  readonly license: string | undefined;
}

/** Licences a closed deployment cannot ship: copyleft that reaches across a network. */
const FORBIDDEN = /\b(AGPL|SSPL)/i;

/** What is wrong with one package's licence, or undefined when it may ship. */
export function licenceProblem(p: Pkg): string | undefined {
  if (!p.license || p.license === 'UNLICENSED' || /^SEE LICEN[CS]E/i.test(p.license)) return `${p.name}@${p.version}: no licence npm can read (${p.license ?? 'none'})`;
  // "(MIT OR X)": shippable when one alternative is; "A AND B": every part must be.
  const alternatives = p.license.replace(/[()]/g, '').split(/\s+OR\s+/i);
  if (alternatives.every((a) => FORBIDDEN.test(a))) return `${p.name}@${p.version}: ${p.license} (network copyleft)`;
  return undefined;
}

interface LsNode {
  version?: string;
  license?: string | { type?: string };
  dependencies?: Record<string, LsNode>;
}

/** Every package of the production tree once, from `npm ls --json --long`. */
export function productionPackages(ls: LsNode): Pkg[] {
  const seen = new Map<string, Pkg>();
  const walk = (deps: Record<string, LsNode> | undefined): void => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (d.version === undefined) continue; // an optional dependency for another platform: not installed, not shipped
      const key = `${name}@${d.version}`;
      if (seen.has(key)) continue;
      const license = typeof d.license === 'object' ? d.license?.type : d.license;
      seen.set(key, { name, version: d.version, license });
      walk(d.dependencies);
    }
  };
  walk(ls.dependencies);
  return [...seen.values()];
}

function main(): number {
  const root = fileURLToPath(new URL('..', import.meta.url));
  let out: string;
  try {
    out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--json', '--long'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? ''; // npm ls exits 1 on a problem it reports in the JSON too
  }
  const pkgs = productionPackages(JSON.parse(out) as LsNode);
  const counts = new Map<string, number>();
  for (const p of pkgs) counts.set(p.license ?? '(none)', (counts.get(p.license ?? '(none)') ?? 0) + 1);
  const problems = pkgs.map(licenceProblem).filter((x): x is string => x !== undefined);
  process.stdout.write(`licences of ${pkgs.length} shipped packages: ${[...counts].sort((a, b) => b[1] - a[1]).map(([l, n]) => `${l} ${n}`).join(', ')}\n`);
  if (problems.length) {
    process.stderr.write(`licence check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main();
