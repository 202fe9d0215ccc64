/**
 * The one catalogue of Driftline's coded errors. Every error the code raises on purpose is created
 * here, so that codes stay unique, messages stay specific, and operators can grep a code in the
 * runbook. Each message names the thing that was wrong (a file, a key, a value) and what was expected.
 */

interface ErrorSpec {
  /** Short description of what went wrong, used by the docs and the catalogue test. */
  readonly summary: string;
  /** Builds the message from the details. */
  readonly message: (d: Record<string, unknown>) => string;
}

function spec(summary: string, message: (d: Record<string, unknown>) => string): ErrorSpec {
  return { summary, message };
}

const s = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export const ERRORS = {
  DRIFTLINE_ERR_MODEL_NOT_FOUND: spec('the model file does not exist', (d) => `model file not found: ${s(d.file)}`),
  DRIFTLINE_ERR_MODEL_NOT_ONNX: spec(
    'the model file is not an ONNX protobuf',
    (d) => `${s(d.file)} is not an ONNX model: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_MODEL_INPUT: spec(
    'the model input is not a single NCHW float image tensor',
    (d) => `${s(d.file)}: unsupported model input ${s(d.input)}: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_MODEL_OUTPUT: spec(
    'the model output layout is not a known detector layout',
    (d) =>
      `${s(d.file)}: unsupported output shape [${(d.shape as unknown[]).join(', ')}]: ${s(d.reason)}. ` +
      'Expected YOLOv5 [1, N, 5+nc], YOLOv8/v11 [1, 4+nc, N] or end-to-end [1, N, 6]',
  ),
  DRIFTLINE_ERR_MODEL_EMBEDDING: spec(
    "the model's embedding output (detection-level OOD features) disagrees with its `embedding` metadata or with output0",
    (d) => `${s(d.file)}: embedding output ${s(d.output)}: ${s(d.reason)}. Expected [1, D, anchors] float32 with output0's anchors, as the \`embedding\` metadata describes it`,
  ),
  DRIFTLINE_ERR_MODEL_LOAD: spec(
    'ONNX Runtime could not create a session with any configured execution provider',
    (d) => `${s(d.file)}: no execution provider could load the model (${s(d.attempts)})`,
  ),
  DRIFTLINE_ERR_EXECUTION_PROVIDER: spec(
    'an unknown execution provider name was configured',
    (d) => `unknown execution provider ${s(d.provider)}; expected one of ${s(d.expected)}`,
  ),
  DRIFTLINE_ERR_IMAGE_NOT_FOUND: spec('an input image does not exist', (d) => `image not found: ${s(d.file)}`),
  DRIFTLINE_ERR_IMAGE_DECODE: spec(
    'an input file could not be decoded as an image',
    (d) => `${s(d.file)} is not a readable image: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_FRAME_SIZE: spec(
    'a raw frame buffer does not match its declared size',
    (d) => `raw frame of ${s(d.width)}x${s(d.height)}x${s(d.channels)} needs ${s(d.expected)} bytes, got ${s(d.actual)}`,
  ),
  DRIFTLINE_ERR_CONFIG: spec(
    'a configuration value is unknown or invalid (every problem in the file is listed at once)',
    (d) =>
      Array.isArray(d.problems) && d.problems.length > 1
        ? `${d.problems.length} problems in the configuration:\n${(d.problems as Record<string, unknown>[]).map((p) => `  - invalid ${s(p.key)}: got ${s(p.value)}, expected ${s(p.expected)}`).join('\n')}`
        : `invalid ${s(d.key)}: got ${s(d.value)}, expected ${s(d.expected)}`,
  ),
  DRIFTLINE_ERR_PROFILE: spec(
    'a file is not a readable Driftline reference profile',
    (d) => `${s(d.file)} is not a Driftline profile: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_STORE: spec(
    'the SQLite or PostgreSQL store could not be opened or migrated',
    (d) => `store ${s(d.file)}: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_REPLICA_ID: spec(
    'a collector replica started with the MQTT client id of one that is running on the same PostgreSQL store',
    (d) =>
      `broker.clientId ${s(d.clientId)} is held by a running collector on ${s(d.file)}${d.first ? '' : ' (this replica lost its store connection meanwhile)'}: give each replica its own broker.clientId (or DRIFTLINE_COLLECTOR_BROKER__CLIENT_ID); right after a replica died, the leader holds its id for a few seconds while it takes over its broker session`,
  ),
  DRIFTLINE_ERR_LISTEN: spec(
    'a server socket could not be opened (port in use, no permission)',
    (d) => `cannot open ${s(d.what)} on ${s(d.address)} (${s(d.code)}): ${d.hint === undefined ? `choose another port with ${s(d.key)}, or stop what holds it` : s(d.hint)}`,
  ),
  DRIFTLINE_ERR_PROGRAM_MISSING: spec(
    'an external program that a configured part needs (ffmpeg, gst-launch-1.0) is not installed',
    (d) => `${s(d.neededBy)} needs ${s(d.program)}, which is not installed or not executable: install the ${s(d.pkg)} package (apt-get install ${s(d.pkg)})`,
  ),
  DRIFTLINE_ERR_DUPLICATE_DEVICE: spec(
    'another client with this device identity keeps taking over its broker session',
    (d) =>
      `device ${s(d.device)}: another client with its identity (client id ${s(d.clientId)}) keeps taking over its broker session; two agents run as one device (a cloned card or a copied config?): give each its own mqtt.device (and credentials). Backing off meanwhile`,
  ),
  DRIFTLINE_ERR_CHECK: spec(
    'the start-up checks found several problems (missing files or programs); each is listed with its own code',
    (d) => `${(d.found as string[]).length} problems found before start:\n${(d.found as string[]).map((p) => `  - ${p}`).join('\n')}`,
  ),
  DRIFTLINE_ERR_DATASET: spec(
    'an evaluation data set (data.yaml, YOLO label, COCO json, manifest.jsonl or conditions CSV) is missing a part or has a bad entry',
    (d) => `${s(d.file)}${d.line === undefined ? '' : `:${s(d.line)}`}${d.location === undefined ? '' : ` (${s(d.location)})`}: ${s(d.reason)}`,
  ),
  DRIFTLINE_ERR_USAGE: spec('a command-line argument is missing or invalid', (d) => s(d.reason)),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class DriftlineError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, details: Record<string, unknown>, options?: { cause?: unknown }) {
    super(ERRORS[code].message(details), options);
    this.name = 'DriftlineError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

export function driftlineError(
  code: ErrorCode,
  details: Record<string, unknown>,
  options?: { cause?: unknown },
): DriftlineError {
  return new DriftlineError(code, details, options);
}

export function isDriftlineError(e: unknown, code?: ErrorCode): e is DriftlineError {
  return e instanceof DriftlineError && (code === undefined || e.code === code);
}
