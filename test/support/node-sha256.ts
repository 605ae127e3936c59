// Test helper: the AWS SDK's Checksum contract (SHA-256, or HMAC-SHA256 when given a key) on
// node:crypto, for @smithy/signature-v4's SignatureV4 in tests that sign requests themselves.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';

export /** The SDK's Checksum contract (SHA-256, or HMAC-SHA256 when given a key) on node:crypto. */
class NodeSha256 {
  private hash: Hash | Hmac;
  private readonly secret: Uint8Array | string | undefined;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.secret = secret === undefined || typeof secret === 'string' ? secret : ArrayBuffer.isView(secret) ? new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength) : new Uint8Array(secret);
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', this.secret);
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    this.hash = this.fresh();
  }
}
