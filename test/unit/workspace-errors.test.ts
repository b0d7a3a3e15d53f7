import { describe, expect, it } from 'vitest';
import { classifyError, parseErrorBody, parseRetryAfter, WorkspaceApiError } from '../../lib/workspace/errors.js';

describe('error classification (docs/workspace-api.md, "Errors")', () => {
  it.each([
    [429, 'APIG.0308', 'transient'],
    [500, 'APIG.0601', 'transient'],
    [502, 'APIG.0201', 'transient'],
    [503, 'APIG.0610', 'transient'],
    [504, 'APIG.0201', 'transient'],
    [503, 'APIG.0613', 'transient'],
    [500, 'WKS.00211401', 'transient'],
    [undefined, 'NETWORK', 'transient'],
    [undefined, 'TIMEOUT', 'transient'],
    [401, 'APIG.0301', 'auth'],
    [401, 'APIGW.0301', 'auth'],
    [401, 'APIG.0303', 'auth'],
    [401, 'APIG.0305', 'auth'],
    [401, 'APIG.0307', 'auth'],
    [401, 'HTTP_401', 'auth'],
    [400, 'APIG.0201', 'permanent'],
    [413, 'APIG.0201', 'permanent'],
    [400, 'WKS.00211102', 'permanent'],
    [403, 'APIG.0302', 'permanent'],
    [403, 'APIG.0306', 'permanent'],
    [403, 'APIG.0310', 'permanent'],
    [403, 'WKS.00081102', 'permanent'],
    [404, 'WKS.00210404', 'permanent'],
    [405, 'WKS.00000405', 'permanent'],
  ] as const)('%s %s is %s', (status, code, kind) => {
    expect(classifyError(status, code)).toBe(kind);
  });

  it('carries status, code, message and request id on the error', () => {
    const error = new WorkspaceApiError({
      status: 403,
      code: 'WKS.00081102',
      message: 'no permission',
      requestId: 'req-1',
    });
    expect(error).toMatchObject({ kind: 'permanent', status: 403, code: 'WKS.00081102', requestId: 'req-1' });
    expect(error.message).toBe('Workspace 403 WKS.00081102: no permission (X-Request-Id req-1)');
  });
});

describe('error bodies and Retry-After', () => {
  it.each([
    [
      '{error_code, error_msg} (the gateway and most services)',
      '{"error_code":"APIG.0308","error_msg":"throttled"}',
      { code: 'APIG.0308', message: 'throttled' },
    ],
    [
      '{code, message}',
      '{"code":"WKS.00210404","message":"not found"}',
      { code: 'WKS.00210404', message: 'not found' },
    ],
    [
      '{error: {code, message}}',
      '{"error":{"code":"WKS.00211102","message":"bad"}}',
      { code: 'WKS.00211102', message: 'bad' },
    ],
    [
      '{error: {error_code, error_msg}}',
      '{"error":{"error_code":"WKS.00081102","error_msg":"no permission"}}',
      { code: 'WKS.00081102', message: 'no permission' },
    ],
    [
      'a code nested under another name',
      '{"request_id":"r1","result":{"code":"APIG.0201","message":"backend"}}',
      { code: 'APIG.0201', message: 'backend' },
    ],
    ['a code without a message', '{"error_code":"WKS.00211401"}', { code: 'WKS.00211401', message: '' }],
    [
      'error_code before code',
      '{"code":"OTHER","message":"m2","error_code":"APIG.0303","error_msg":"m1"}',
      { code: 'APIG.0303', message: 'm1' },
    ],
    [
      'an empty error_code, then code',
      '{"error_code":"","code":"WKS.00210404","message":"gone"}',
      { code: 'WKS.00210404', message: 'gone' },
    ],
  ])('reads an error body shaped %s', (_shape, body, expected) => {
    expect(parseErrorBody(body)).toEqual(expected);
  });

  it.each([
    ['not JSON', '<html>'],
    ['no code', '{"x":1}'],
    ['a number for a code', '{"code":400,"message":"bad"}'],
    ['an array', '[{"error_code":"APIG.0308"}]'],
    ['a code nested deeper than three levels', '{"a":{"b":{"c":{"d":{"code":"X"}}}}}'],
  ])('finds no code in %s', (_what, body) => {
    expect(parseErrorBody(body)).toBeUndefined();
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 5_000)).toBe(5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
