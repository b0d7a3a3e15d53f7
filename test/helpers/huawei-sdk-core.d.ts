declare module '@huaweicloud/huaweicloud-sdk-core/auth/AKSKSigner.js' {
  export class AKSKSigner {
    static sign(
      request: {
        method: string;
        endpoint: string;
        queryParams?: Record<string, string | string[]>;
        headers: Record<string, string>;
        data?: unknown;
      },
      credential: { getAk(): string; getSk(): string },
    ): Record<string, string>;
    static CanonicalURI(path: string): string;
  }
}
