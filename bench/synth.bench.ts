/**
 * The synthetic line camera must serve as a live 640x480 camera at >= 30 fps on one core. Node runs
 * the renderer on its one JavaScript thread, so frames per second here are per core.
 */
import { LineCamera } from '../agent/synth/camera.js';
import { DEFAULT_CONDITIONS, type Conditions } from '../agent/synth/conditions.js';
import { header, line, measure, ratio } from './harness.js';

export async function bench(seconds: number): Promise<void> {
  header('synthetic line camera, 640x480 RGB24, one core');
  // Baseline measured in the same run: one pass that writes every byte of a frame buffer.
  const buf = new Uint8Array(640 * 480 * 3);
  let k = 0;
  const base = await measure(seconds / 3, () => {
    k = (k + 1) & 0xff;
    for (let i = 0; i < buf.length; i++) buf[i] = (i + k) & 0xff;
  });
  line('baseline: one write pass over a frame', `${base.perSecond.toFixed(0)} frames/s`);
  const cases: [string, Partial<Conditions>][] = [
    ['nominal conditions', {}],
    ['worst case: blur 3 + noise 8 + 5 deg roll + shift', { blur: 3, noise: 8, rotationDeg: 5, offsetX: 12 }],
  ];
  for (const [name, c] of cases) {
    const cam = new LineCamera(640, 480, 1);
    const cond = { ...DEFAULT_CONDITIONS, ...c };
    const r = await measure(seconds / 3, () => cam.next(cond));
    line(`${name}`, `${r.perSecond.toFixed(0)} fps (${r.msEach.toFixed(2)} ms/frame)`);
    ratio(`  ${name}: fps / 30 fps target`, r.perSecond / 30, 1);
    line(`  ${name}: cost vs one write pass`, `${(base.perSecond / r.perSecond).toFixed(2)}x`);
  }
}
