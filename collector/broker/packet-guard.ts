/**
 * The embedded broker's packet-size cap, at the socket. aedes' parser (mqtt-packet) has no maximum:
 * it buffers a whole packet before anyone sees it, so a 100 MB PUBLISH costs 100 MB before
 * authorizePublish could refuse it. This guard reads each packet's fixed header (one type byte and
 * a 1-4 byte remaining length) as the bytes go by and drops the connection as soon as a packet
 * declares more than the cap: the broker holds at most one socket read of it.
 *
 * aedes consumes its socket with `conn.read()` (lib/client.js); the guard wraps that method on the
 * one socket, so every byte aedes parses has been through the scanner first.
 */
import type { Socket } from 'node:net';

/** Follows MQTT packet boundaries across chunks; true from feed() means a packet is too large. */
export class FrameScanner {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Scans one chunk; true when a packet in it declares more than the cap (or a malformed length). */
  feed(chunk: Buffer): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'body') {
        const n = Math.min(this.remaining, chunk.length - i);
        this.remaining -= n;
        i += n;
        if (this.remaining === 0) this.state = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 'type') {
        this.state = 'length';
        this.length = 0;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * 128 ** this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes === 4) return true; // a fifth length byte: not MQTT
        continue;
      }
      if (1 + this.lengthBytes + this.length > this.maxPacketBytes) return true;
      this.remaining = this.length;
      this.state = this.remaining > 0 ? 'body' : 'type';
    }
    return false;
  }
}

/** Makes `socket` refuse packets over `maxPacketBytes`: `onOversize` runs once and the socket is destroyed. */
export function guardPacketSize(socket: Socket, maxPacketBytes: number, onOversize: () => void): void {
  const scanner = new FrameScanner(maxPacketBytes);
  const read = socket.read.bind(socket);
  let refused = false;
  socket.read = (size?: number) => {
    if (refused) return null;
    const chunk = read(size) as Buffer | string | null;
    if (chunk === null || typeof chunk === 'string' || !scanner.feed(chunk)) return chunk;
    refused = true;
    onOversize();
    socket.destroy();
    return null;
  };
}
