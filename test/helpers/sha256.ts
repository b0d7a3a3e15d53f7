import { createHash, createHmac } from 'node:crypto';

/** SHA-256 (an HMAC when given a secret) as @smithy/signature-v4 asks for it, from node:crypto. */
export class Sha256 {
  private readonly hash;
  constructor(secret?: unknown) {
    this.hash = secret ? createHmac('sha256', secret as string | Uint8Array) : createHash('sha256');
  }
  update(data: string | Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
