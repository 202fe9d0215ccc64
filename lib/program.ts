/**
 * Finding an external program (ffmpeg, gst-launch-1.0) once, at start-up. A program that is not
 * installed is a configuration error naming the package that brings it, never a camera fault to
 * retry forever.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { driftlineError } from './errors.js';

/** The absolute path of an executable `program` (a name looked up on PATH, or a path), or undefined. */
export function findProgram(program: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = program.includes('/') ? [program] : path.split(delimiter).filter(Boolean).map((dir) => join(dir, program));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return isAbsolute(c) ? c : join(process.cwd(), c);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** findProgram, or DRIFTLINE_ERR_PROGRAM_MISSING naming who needs it and the package to install. */
export function requireProgram(program: string, pkg: string, neededBy: string): string {
  const found = findProgram(program);
  if (!found) throw driftlineError('DRIFTLINE_ERR_PROGRAM_MISSING', { program, pkg, neededBy });
  return found;
}
