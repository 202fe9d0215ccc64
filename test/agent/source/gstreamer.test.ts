import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../../helpers/wait.js';
import { GstreamerSource, gstPipeline, gstTokens } from '../../../agent/source/gstreamer.js';
import { isDriftlineError } from '../../../lib/errors.js';


test('a videotestsrc pipeline of 37 buffers yields exactly 37 RGB frames at the configured size', async (t) => {
  const src = new GstreamerSource({ name: 'gst', width: 96, height: 64, finite: true, source: { preset: 'raw', pipeline: 'videotestsrc num-buffers=37 pattern=smpte ! video/x-raw,width=320,height=240' } });
  t.after(() => src.stop());
  let n = 0;
  let coloured = 0;
  src.start((f) => {
    n++;
    assert.equal(f.data.length, 96 * 64 * 3);
    // SMPTE bars: the first bar is light grey/white, the second yellow (high R and G, low B).
    const i = (32 * 96 + 20) * 3;
    if (f.data[i]! > 150 && f.data[i + 1]! > 150 && f.data[i + 2]! < 80) coloured++;
  });
  await until(() => src.state === 'ended', 20_000, 'end of stream');
  assert.equal(n, 37);
  assert.equal(coloured, 37, 'frames are real RGB, aligned at frame boundaries');
  assert.equal(src.counters.errors, 0);
  await src.stop();
});

test('a pipeline that fails to start is an error and retried with backoff, not a crash', async (t) => {
  const src = new GstreamerSource({ name: 'bad', width: 64, height: 48, source: { preset: 'raw', pipeline: 'nosuchelement' }, backoff: { initialMs: 50, maxMs: 100, jitter: 0 } });
  t.after(() => src.stop());
  const errors: string[] = [];
  src.onEvent = (e) => {
    if (e.type === 'error') errors.push(e.reason);
  };
  src.start(() => assert.fail('no frames expected'));
  await until(() => src.counters.reconnects >= 2, 20_000, 'two retries');
  await src.stop();
  assert.ok(errors.some((e) => /nosuchelement|no element|erroneous pipeline/i.test(e)), errors.join('\n'));
});

test('a missing gst-launch-1.0 is a configuration error naming its package, not a camera retried forever', () => {
  assert.throws(
    () => new GstreamerSource({ name: 'csi0', width: 64, height: 48, source: { preset: 'raw', pipeline: 'videotestsrc' }, gstLaunch: '/opt/none/gst-launch-1.0' }),
    (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_PROGRAM_MISSING') && /camera csi0 needs \/opt\/none\/gst-launch-1\.0.*apt-get install gstreamer1\.0-tools/.test(e.message),
  );
});

test('Jetson presets build the hardware pipelines', () => {
  const csi = gstPipeline({ name: 'c', width: 640, height: 480, source: { preset: 'jetson-csi', sensorId: 1, captureWidth: 1920, captureHeight: 1080, fps: 30 } });
  assert.equal(csi, 'nvarguscamerasrc sensor-id=1 ! video/x-raw(memory:NVMM),width=1920,height=1080,framerate=30/1 ! nvvidconv ! videoconvert ! videoscale ! video/x-raw,format=RGB,width=640,height=480 ! fdsink fd=1 sync=false');
  const rtsp = gstPipeline({ name: 'r', width: 640, height: 480, source: { preset: 'rtsp-nvdec', url: 'rtsp://10.0.0.7/s', latencyMs: 200 } });
  assert.match(rtsp, /^rtspsrc location=rtsp:\/\/10\.0\.0\.7\/s protocols=tcp latency=200 ! rtph264depay ! h264parse ! nvv4l2decoder ! nvvidconv ! videoconvert/);
});

test('descriptions are split into argv like a shell would', () => {
  assert.deepEqual(gstTokens('filesrc location="/data/line 3.mp4" ! decodebin'), ['filesrc', 'location=/data/line 3.mp4', '!', 'decodebin']);
  assert.deepEqual(gstTokens("a  b\t'c d'"), ['a', 'b', 'c d']);
});
