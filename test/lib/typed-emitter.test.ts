/** lib/typed-emitter.ts: every listener hears each event in the order it subscribed; unsubscribing stops only that listener. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TypedEmitter } from '../../lib/typed-emitter.js';

test('many listeners, in order, with typed arguments; off() removes one', () => {
  const e = new TypedEmitter<{ change: [id: string, n: number]; other: [] }>();
  const heard: string[] = [];
  e.on('change', (id, n) => heard.push(`first ${id} ${n}`));
  const off = e.on('change', (id, n) => heard.push(`second ${id} ${n}`));
  e.on('other', () => heard.push('other'));
  e.emit('change', 'a', 1);
  off();
  off(); // twice is harmless
  e.emit('change', 'b', 2);
  e.emit('other');
  assert.deepEqual(heard, ['first a 1', 'second a 1', 'first b 2', 'other']);
});

test('an event nobody listens to is a no-op; a listener that unsubscribes during an emit does not make the next one miss it', () => {
  const e = new TypedEmitter<{ tick: [n: number] }>();
  e.emit('tick', 0);
  const heard: number[] = [];
  const off = e.on('tick', () => off());
  e.on('tick', (n) => heard.push(n));
  e.emit('tick', 1);
  e.emit('tick', 2);
  assert.deepEqual(heard, [1, 2]);
});

test("a listener's exception reaches the emitter's caller", () => {
  const e = new TypedEmitter<{ tick: [] }>();
  e.on('tick', () => {
    throw new Error('boom');
  });
  assert.throws(() => e.emit('tick'), /boom/);
});
