/** systemd unit files for tests: a small parser, and systemd-analyze's verify and security on a file. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type Unit = Map<string, [string, string][]>;

/** A unit file's [Section] Key=value lines, keys repeated in order. */
export function parseUnit(text: string): Unit {
  const sections: Unit = new Map();
  let current: [string, string][] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      current = sections.get(s[1]!) ?? [];
      sections.set(s[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `a Key=value line inside a section: ${line}`);
    current.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return sections;
}

/** Every value of a key in a section, in order. */
export const values = (unit: Unit, section: string, key: string): string[] => (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
/** The value that wins (the last). */
export const one = (unit: Unit, section: string, key: string): string | undefined => values(unit, section, key).at(-1);

/** `systemd-analyze verify FILE` (drop-ins in FILE.d/ next to it included): its exit code and warnings. */
export async function verify(file: string): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run('systemd-analyze', ['verify', file]);
    return { code: 0, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stderr: string };
    return { code: err.code, stderr: err.stderr };
  }
}

/** systemd-analyze security's overall exposure for a unit file (0 safest, 10 unsafe), and its verdict. */
export async function exposure(file: string): Promise<{ score: number; verdict: string }> {
  const { stdout } = await run('systemd-analyze', ['security', '--offline=true', '--no-pager', file]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?) (\S+)/.exec(stdout);
  assert.ok(m, `no overall exposure in:\n${stdout}`);
  return { score: Number(m[1]), verdict: m[2]! };
}
