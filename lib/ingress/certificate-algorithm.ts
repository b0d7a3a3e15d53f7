/**
 * The signature algorithm named in an X.509 certificate (RFC 5280 §4.1.1.2:
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }).
 * Huawei's Java sample verifies SMN messages with `Signature.getInstance(cert.getSigAlgName())`
 * (https://support.huaweicloud.com/intl/en-us/usermanual-smn/smn_ug_a9004.html),
 * i.e. the certificate's own signature algorithm; node's X509Certificate does not
 * expose it, so we read it from the DER.
 */

/** How to verify with a certificate's signature algorithm: its digest and the key type it needs. */
export interface SignatureAlgorithm {
  /** Digest for crypto.verify. */
  readonly digest: 'sha256' | 'sha384' | 'sha512';
  /** The key type the certificate's public key must have. */
  readonly keyType: 'rsa' | 'ec';
  readonly name: string;
}

// SHA-1 (1.2.840.113549.1.1.5) and RSASSA-PSS (…1.10, which needs parameters) are deliberately absent:
// SHA-1 is broken for signatures, and Huawei's Go sample uses SHA-256 with PKCS #1 v1.5.
const KNOWN: Record<string, SignatureAlgorithm> = {
  '1.2.840.113549.1.1.11': { digest: 'sha256', keyType: 'rsa', name: 'sha256WithRSAEncryption' },
  '1.2.840.113549.1.1.12': { digest: 'sha384', keyType: 'rsa', name: 'sha384WithRSAEncryption' },
  '1.2.840.113549.1.1.13': { digest: 'sha512', keyType: 'rsa', name: 'sha512WithRSAEncryption' },
  '1.2.840.10045.4.3.2': { digest: 'sha256', keyType: 'ec', name: 'ecdsa-with-SHA256' },
  '1.2.840.10045.4.3.3': { digest: 'sha384', keyType: 'ec', name: 'ecdsa-with-SHA384' },
  '1.2.840.10045.4.3.4': { digest: 'sha512', keyType: 'ec', name: 'ecdsa-with-SHA512' },
};

/** One DER element: where its content starts and ends. */
function element(der: Uint8Array, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag) throw new Error(`expected DER tag 0x${tag.toString(16)} at ${at}`);
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes < 1 || bytes > 4) throw new Error('unsupported DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  const end = start + length;
  if (end > der.length) throw new Error('DER element runs past the end');
  return { start, end };
}

function oidText(bytes: Uint8Array): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  return [Math.min(2, Math.floor(first / 40)), first - 40 * Math.min(2, Math.floor(first / 40)), ...parts].join('.');
}

/** The certificate's signature algorithm OID, e.g. 1.2.840.113549.1.1.11. */
export function signatureAlgorithmOid(der: Uint8Array): string {
  const certificate = element(der, 0, 0x30);
  const tbs = element(der, certificate.start, 0x30);
  const algorithm = element(der, tbs.end, 0x30);
  const oid = element(der, algorithm.start, 0x06);
  return oidText(der.subarray(oid.start, oid.end));
}

/** The algorithm we verify with, or why the certificate cannot be used. */
export function signatureAlgorithmOf(der: Uint8Array): SignatureAlgorithm | string {
  let oid: string;
  try {
    oid = signatureAlgorithmOid(der);
  } catch (error) {
    return `the signing certificate could not be read (${(error as Error).message})`;
  }
  return (
    KNOWN[oid] ??
    `the signing certificate's signature algorithm ${oid} is not accepted (SHA-256/384/512 with RSA or ECDSA only)`
  );
}
