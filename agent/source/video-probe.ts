/**
 * Whether ffmpeg can decode a first video frame of a local file, for `driftline agent --check`. A
 * file that exists can still be no video at all (a truncated copy, an audio track, a text file
 * named .mp4); at run time that camera only logs errors and retries, so --check says it before the
 * start. The start itself never probes: a camera that fails is a camera fault, not a reason to stop.
 */
import { spawn } from 'node:child_process';

/** Why `program` (ffmpeg) cannot decode a frame of `path`: its first error line, or how it ended; undefined when it can. */
export function probeVideoFile(program: string, path: string, timeoutMs = 10_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', path, '-an', '-sn', '-frames:v', '1', '-f', 'null', '-'];
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve(`cannot run ${program}: ${e.message}`);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolve(undefined);
      if (signal) return resolve(`no frame decoded within ${timeoutMs / 1000} s`);
      // The first line is the most specific ("moov atom not found"); the decoder's address is noise.
      const first = stderr.split('\n').map((l) => l.trim().replace(/ @ 0x[0-9a-f]+\]/, ']')).find(Boolean);
      resolve(first ? `ffmpeg: ${first}` : `ffmpeg exited with code ${code}`);
    });
  });
}
