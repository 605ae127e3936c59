// The peer wire framing: each frame is a 4-byte unsigned big-endian payload length followed by
// one msgpack value. Pure: no sockets, no timers, no logging. It owns byte-level validity only
// (sizes, msgpack syntax); what a payload means is envelope.ts's job. It must never keep state
// across frames beyond the bytes of the frame being assembled.
import { assert } from '../env/assert.ts';
import { Packr } from 'msgpackr';

/** Bytes of the length prefix in front of every frame. */
export const frameHeaderBytes = 4;

/** Default largest payload (excluding the header) either side accepts: 32 MiB, room for a batch of large values. */
export const frameBytesMaxDefault = 32 * 1024 * 1024;

/** The prefix is a uint32, so no configuration may exceed what it can declare. */
export const frameBytesMaxLimit = 0xffff_ffff;

export type FrameErrorCode = 'FRAME_TOO_LARGE' | 'FRAME_MALFORMED';

/** Bytes from a peer (or a payload to send) that cannot be a frame. An operating error, not a bug. */
export class FrameError extends Error {
  constructor(
    readonly code: FrameErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FrameError';
  }
}

// Records (shared structures) are off because peers are separate processes that share no
// structure table; maps decode as plain objects because validators narrow plain objects.
// copyBuffers: a decoded Uint8Array must own its bytes, otherwise one small value kept in
// memory (a cache, a pending write) would pin the whole socket chunk or frame it came from.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, copyBuffers: true });

function assertFrameBytesMax(frameBytesMax: number): void {
  if (!Number.isSafeInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > frameBytesMaxLimit) {
    throw new RangeError(`frameBytesMax must be an integer in [1, ${frameBytesMaxLimit}], got ${frameBytesMax}`);
  }
}

/**
 * Encodes `payload` as one frame. Throws FrameError FRAME_TOO_LARGE if the payload exceeds
 * `frameBytesMax` (the receiver would reject it anyway, so it is refused before it costs a
 * connection). A value msgpack cannot represent (e.g. a BigInt beyond 64 bits) throws the
 * encoder's own error: that is a programmer error, not an operating one.
 */
export function encodeFrame(payload: unknown, frameBytesMax: number = frameBytesMaxDefault): Buffer {
  assertFrameBytesMax(frameBytesMax);
  // pack() returns a view into msgpackr's reusable scratch buffer, so the copy below is required.
  const body = packr.pack(payload);
  if (body.length > frameBytesMax) {
    throw new FrameError('FRAME_TOO_LARGE', `frame payload of ${body.length} bytes exceeds frameBytesMax ${frameBytesMax}`);
  }
  const frame = Buffer.allocUnsafe(frameHeaderBytes + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.set(body, frameHeaderBytes);
  return frame;
}

/** Decodes one complete payload; the whole buffer must be exactly one msgpack value. */
export function decodePayload(body: Uint8Array): unknown {
  if (body.length === 0) throw new FrameError('FRAME_MALFORMED', 'empty frame payload');
  try {
    // unpack() throws if bytes remain after the first value, so trailing garbage is caught too.
    return packr.unpack(body);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new FrameError('FRAME_MALFORMED', `invalid msgpack payload: ${reason.slice(0, 200)}`, { cause: error });
  }
}

/** A decoder keeps a buffer at most this large between frames; a larger one (left by a big frame) is released. */
export const decoderBufferRetainBytes = 64 * 1024;

/**
 * Reassembles frames from a byte stream cut at arbitrary points. Frames that lie whole inside a
 * chunk are decoded in place; only an incomplete tail is copied into a buffer that grows by
 * doubling and compacts only when at least half of it would be free, so the cost stays linear in
 * the bytes pushed however the stream is chunked (many small frames per chunk, or one large
 * frame in many tiny chunks). After a FrameError the stream has lost synchronisation: the decoder
 * stays failed, every later push throws the same error, and payloads completed earlier in the
 * failing push are discarded (the caller closes the connection anyway).
 */
export class FrameDecoder {
  readonly frameBytesMax: number;
  private buffer: Buffer = Buffer.alloc(0);
  /** Unconsumed bytes are buffer[start, end). */
  private start = 0;
  private end = 0;
  private failure: FrameError | undefined;

  constructor(options: { frameBytesMax?: number } = {}) {
    this.frameBytesMax = options.frameBytesMax ?? frameBytesMaxDefault;
    assertFrameBytesMax(this.frameBytesMax);
  }

  /** Bytes received but not yet returned as frames; below header + frameBytesMax + one chunk. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Feeds bytes; returns every payload completed by them, in order. Throws FrameError. */
  push(chunk: Buffer): unknown[] {
    if (this.failure !== undefined) throw this.failure;
    const payloads: unknown[] = [];
    try {
      if (this.start === this.end) {
        const consumed = this.decodeFrames(chunk, 0, chunk.length, payloads);
        if (consumed < chunk.length) this.append(chunk.subarray(consumed));
      } else {
        this.append(chunk);
        this.start = this.decodeFrames(this.buffer, this.start, this.end, payloads);
        if (this.start === this.end) this.release();
      }
    } catch (error) {
      this.failure =
        error instanceof FrameError ? error : new FrameError('FRAME_MALFORMED', 'frame decoding failed', { cause: error });
      this.buffer = Buffer.alloc(0);
      this.start = 0;
      this.end = 0;
      throw this.failure;
    }
    return payloads;
  }

  /** Decodes the complete frames in bytes[start, end); returns where the first incomplete one begins. */
  private decodeFrames(bytes: Buffer, start: number, end: number, out: unknown[]): number {
    let position = start;
    while (end - position >= frameHeaderBytes) {
      const declared = bytes.readUInt32BE(position);
      // Checked on the header alone, so an oversized frame is refused before its body is buffered.
      if (declared > this.frameBytesMax) {
        throw new FrameError('FRAME_TOO_LARGE', `declared frame length ${declared} exceeds frameBytesMax ${this.frameBytesMax}`);
      }
      const bodyStart = position + frameHeaderBytes;
      if (end - bodyStart < declared) break;
      out.push(decodePayload(bytes.subarray(bodyStart, bodyStart + declared)));
      position = bodyStart + declared;
    }
    return position;
  }

  private append(bytes: Buffer): void {
    const unread = this.end - this.start;
    if (this.end + bytes.length > this.buffer.length) {
      const needed = unread + bytes.length;
      if (needed <= this.buffer.length / 2) {
        // At least half the buffer is free after this move, so moves cost O(1) per appended byte.
        this.buffer.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2, 1024));
        this.buffer.copy(grown, 0, this.start, this.end);
        this.buffer = grown;
      }
      this.start = 0;
      this.end = unread;
    }
    bytes.copy(this.buffer, this.end);
    this.end += bytes.length;
  }

  private release(): void {
    this.start = 0;
    this.end = 0;
    if (this.buffer.length > decoderBufferRetainBytes) this.buffer = Buffer.alloc(0);
  }
}

/**
 * Reads the first frame of a stream, of at most `frameBytesMax` bytes, holding nothing but that
 * frame's bytes: for the hello of a connection not yet authenticated, whose bytes must cost us
 * little. A larger declared length is refused on the header alone. Once the frame is complete,
 * push() returns it with the bytes that followed it in the same chunk (for the stream's
 * FrameDecoder); the reader must not be pushed again after that.
 */
export class FirstFrameReader {
  readonly frameBytesMax: number;
  private buffer: Buffer = Buffer.alloc(0);
  private done = false;

  constructor(frameBytesMax: number) {
    assertFrameBytesMax(frameBytesMax);
    this.frameBytesMax = frameBytesMax;
  }

  /** Bytes held; at most frameHeaderBytes + frameBytesMax. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Undefined while the frame is incomplete. Throws FrameError for an oversized or malformed frame. */
  push(chunk: Buffer): { readonly payload: unknown; readonly rest: Buffer } | undefined {
    assert(!this.done, 'FirstFrameReader pushed after its frame');
    const bytes = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (bytes.length >= frameHeaderBytes) {
      const declared = bytes.readUInt32BE(0);
      if (declared > this.frameBytesMax) {
        this.buffer = Buffer.alloc(0);
        throw new FrameError('FRAME_TOO_LARGE', `declared frame length ${declared} exceeds frameBytesMax ${this.frameBytesMax}`);
      }
      const end = frameHeaderBytes + declared;
      if (bytes.length >= end) {
        this.done = true;
        this.buffer = Buffer.alloc(0);
        return { payload: decodePayload(bytes.subarray(frameHeaderBytes, end)), rest: bytes.subarray(end) };
      }
    }
    // Copied, so a large chunk is not pinned by the few bytes we keep of it.
    this.buffer = Buffer.from(bytes);
    return undefined;
  }
}
