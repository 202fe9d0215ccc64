/** agent/publish/verdict-log.ts: a change of a camera's verdict is logged at info, a steady one at debug, with the top three drivers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerdictLog } from '../../../agent/publish/verdict-log.js';
import { LEVEL, logLines } from '../../helpers/log-lines.js';

test("news when a camera's verdict changes, debug detail while it holds; cameras apart", () => {
  const { log, lines } = logLines();
  const verdicts = new VerdictLog(log);
  const drivers = [
    { key: 'psi:brightness', value: 0.31234 },
    { key: 'js:classMix', value: 0.2 },
    { key: 'ks:contrast', value: 0.15 },
    { key: 'psi:sharpness', value: 0.12 },
  ];
  verdicts.window('dock', 600, { severity: 'ok', drivers: [] });
  verdicts.window('dock', 600, { severity: 'ok', drivers: [] });
  verdicts.window('gate', 590, { severity: 'ok', drivers: [] });
  verdicts.window('dock', 601, { severity: 'warn', drivers });
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg]),
    [
      [LEVEL.info, 'camera dock drift ok'],
      [LEVEL.debug, 'window scored'],
      [LEVEL.info, 'camera gate drift ok'],
      [LEVEL.info, 'camera dock drift warn'],
    ],
  );
  assert.deepEqual(lines[3]!.drivers, ['psi:brightness=0.312', 'js:classMix=0.200', 'ks:contrast=0.150']);
  assert.equal(lines[3]!.frames, 601);
  assert.equal(lines[3]!.severity, 'warn');
});
