/**
 * The one Driftline command line. Each sub-command lives in cli/<name>.ts and exports
 * `summary`, `usage` and `run(argv)`; errors from the catalogue are printed with their code.
 */
import { isDriftlineError } from '../lib/errors.js';

interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<Command>> = {
  synth: () => import('../cli/synth.js'),
  detect: () => import('../cli/detect.js'),
  demo: () => import('../cli/demo.js'),
  agent: () => import('../cli/agent.js'),
  baseline: () => import('../cli/baseline.js'),
  drift: () => import('../cli/drift.js'),
  review: () => import('../cli/review.js'),
  collector: () => import('../cli/collector.js'),
  registry: () => import('../cli/registry.js'),
  evaluate: () => import('../cli/evaluate.js'),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const lines = await Promise.all(Object.entries(COMMANDS).map(async ([n, load]) => `  ${n.padEnd(10)} ${(await load()).summary}`));
    process.stdout.write(`Usage: driftline <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'driftline <command> --help' for a command's options.\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`driftline: unknown command '${name}'. Run 'driftline --help' for the list.\n`);
    return 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (isDriftlineError(e)) process.stderr.write(`driftline: ${e.code}: ${e.message}\n`);
    else process.stderr.write(`driftline: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = isDriftlineError(e, 'DRIFTLINE_ERR_USAGE') ? 2 : 1;
  },
);
