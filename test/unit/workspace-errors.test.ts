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
    const error = new WorkspaceApiError({ status: 403, code: 'WKS.00081102', message: 'no permission', requestId: 'req-1' });
    expect(error).toMatchObject({ kind: 'permanent', status: 403, code: 'WKS.00081102', requestId: 'req-1' });
    expect(error.message).toBe('Workspace 403 WKS.00081102: no permission (X-Request-Id req-1)');
  });
});

describe('error bodies and Retry-After', () => {
  it('reads both error body shapes', () => {
    expect(parseErrorBody('{"error_code":"APIG.0308","error_msg":"throttled"}')).toEqual({ code: 'APIG.0308', message: 'throttled' });
    expect(parseErrorBody('{"error":{"code":"WKS.00211102","message":"bad"}}')).toEqual({ code: 'WKS.00211102', message: 'bad' });
    expect(parseErrorBody('<html>')).toBeUndefined();
    expect(parseErrorBody('{"x":1}')).toBeUndefined();
  });

  it('reads Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 5_000)).toBe(5);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});
