/**
 * The schema language's derived types: Config<S> must be what validate() returns, key by key. The
 * type assertions below fail `tsc` (not the test run) when the derivation drifts; the runtime checks
 * show the values really have those types.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AgentConfig } from '../../agent/config.js';
import type { ProviderChoice, ProviderName } from '../../agent/infer/providers.js';
import type { TensorrtOptions } from '../../agent/infer/tensorrt-env.js';
import type { CollectorConfig } from '../../collector/config.js';
import { isDriftlineError } from '../../lib/errors.js';
import type { LogFormat } from '../../lib/log.js';
import type { MqttTlsConfig } from '../../lib/mqtt-options.js';
import { validate, type Config, type Schema } from '../../lib/schema.js';

/** true when A and B are the same type (readonly and optional modifiers included). */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

const double = (v: unknown): number | undefined => (typeof v === 'number' ? v * 2 : undefined);

const SAMPLE = {
  name: { kind: 'string', doc: 'required string' },
  mode: { kind: 'string', oneOf: ['fast', 'slow'], default: 'fast', doc: 'one of' },
  pick: { kind: 'string', oneOf: ['a', 'b'], default: '', doc: 'one of, or empty: the default' },
  n: { kind: 'number', default: 1, doc: 'number' },
  on: { kind: 'boolean', default: false, doc: 'boolean' },
  tags: { kind: 'list', of: 'string', default: [], doc: 'strings' },
  picks: { kind: 'list', of: 'string', oneOf: ['a', 'b'], default: ['a'], doc: 'strings, one of' },
  weights: { kind: 'map', of: 'number', default: {}, doc: 'numbers by name' },
  sub: { kind: 'object', fields: { k: { kind: 'number', default: 2, doc: 'nested' } }, doc: 'mapping' },
  maybe: { kind: 'object', fields: { k: { kind: 'number', default: 2, doc: 'nested' } }, optional: true, doc: 'optional mapping' },
  rows: { kind: 'array', item: { id: { kind: 'number', doc: 'row id' } }, doc: 'mappings' },
  doubled: { kind: 'array', item: double, doc: 'custom items' },
} as const satisfies Schema;

type Sample = {
  readonly name: string;
  readonly mode: 'fast' | 'slow';
  readonly pick: 'a' | 'b' | '';
  readonly n: number;
  readonly on: boolean;
  readonly tags: readonly string[];
  readonly picks: readonly ('a' | 'b')[];
  readonly weights: Readonly<Record<string, number>>;
  readonly sub: { readonly k: number };
  readonly maybe: { readonly k: number } | undefined;
  readonly rows: readonly { readonly id: number }[];
  readonly doubled: readonly number[];
};

const sampleMatches: Equal<{ [K in keyof Config<typeof SAMPLE>]: Config<typeof SAMPLE>[K] }, Sample> = true;

test('validate() returns the type its schema derives, with defaults applied and every level frozen', () => {
  const v = validate(SAMPLE, { name: 'x', rows: [{ id: 3 }], doubled: [1, 2] });
  assert.ok(sampleMatches);
  const typed: Sample = v;
  assert.deepEqual(JSON.parse(JSON.stringify(typed)), {
    name: 'x',
    mode: 'fast',
    pick: '',
    n: 1,
    on: false,
    tags: [],
    picks: ['a'],
    weights: {},
    sub: { k: 2 },
    rows: [{ id: 3 }],
    doubled: [2, 4],
  });
  assert.equal(v.maybe, undefined, 'an optional mapping left out stays undefined');
  assert.ok(Object.isFrozen(v) && Object.isFrozen(v.sub) && Object.isFrozen(v.rows) && Object.isFrozen(v.rows[0]) && Object.isFrozen(v.picks));
  assert.throws(
    () => validate(SAMPLE, { mode: 'medium', doubled: ['x'] }),
    (e: unknown) => isDriftlineError(e, 'DRIFTLINE_ERR_CONFIG') && /name/.test(e.message),
    'a missing required key, a value outside oneOf: one error',
  );
});

// The configs keep every literal type their hand-written interfaces had.
type Source = AgentConfig['cameras'][number]['source'];
const agentMatches: [
  Equal<AgentConfig['model']['providers'], readonly ProviderChoice[]>,
  Equal<AgentConfig['model']['requireProvider'], '' | ProviderName>,
  Equal<AgentConfig['model']['resize'], 'auto' | 'bilinear' | 'area' | 'sharp'>,
  Equal<AgentConfig['store']['synchronous'], 'normal' | 'full'>,
  Equal<AgentConfig['log']['format'], LogFormat>,
  Equal<Source['kind'], 'ffmpeg' | 'gstreamer' | 'images' | 'synthetic'>,
  Equal<Extract<Source, { kind: 'gstreamer' }>['preset'], 'jetson-csi' | 'rtsp-nvdec' | 'raw'>,
  Equal<Extract<Source, { kind: 'synthetic' }>['schedule'], readonly { [k: string]: number; at: number }[]>,
  Equal<CollectorConfig['rules']['driftMinSeverity'], 'warn' | 'alert'>,
  Equal<CollectorConfig['log']['format'], LogFormat>,
] = [true, true, true, true, true, true, true, true, true, true];

test("the agent's and the collector's config types are derived with their literal types", () => {
  assert.ok(agentMatches.every(Boolean));
  const tensorrt = (c: AgentConfig): TensorrtOptions => c.model.tensorrt;
  const agentTls = (c: AgentConfig): MqttTlsConfig => c.mqtt;
  const brokerTls = (c: CollectorConfig): MqttTlsConfig => c.broker;
  assert.equal(typeof tensorrt, 'function', 'the sections other modules take as their own option types still fit them');
  assert.equal(typeof agentTls, 'function');
  assert.equal(typeof brokerTls, 'function');
});
