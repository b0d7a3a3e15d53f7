import { randomUUID } from 'node:crypto';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { lambdaContext } from './poller.js';

/**
 * A Lambda Function URL event (payload format 2.0,
 * https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads),
 * as Lambda builds it from an HTTP request: header names in lower case, a text
 * body as is, others base64.
 */
export function functionUrlEvent(options: {
  body: string;
  headers?: Record<string, string>;
  method?: string;
  base64?: boolean;
}): LambdaFunctionURLEvent {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  const method = options.method ?? 'POST';
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers,
    isBase64Encoded: options.base64 ?? false,
    body: options.base64 ? Buffer.from(options.body, 'utf8').toString('base64') : options.body,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local-function-url',
      domainName: 'local-function-url.lambda-url.us-east-1.on.aws',
      domainPrefix: 'local-function-url',
      http: {
        method,
        path: '/',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? 'local',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
  };
}

export type IngressHandler = (event: LambdaFunctionURLEvent, context: Context) => Promise<LambdaFunctionURLResult>;

/** Invokes the ingress handler as the Function URL would, and returns status and parsed answer. */
export async function invokeFunctionUrl(
  handler: IngressHandler,
  event: LambdaFunctionURLEvent,
): Promise<{ status: number; answer: Record<string, unknown> }> {
  const result = (await handler(event, lambdaContext('ingestEvents', 10_000))) as Exclude<
    LambdaFunctionURLResult,
    string
  >;
  return { status: result.statusCode ?? 200, answer: JSON.parse(result.body ?? '{}') as Record<string, unknown> };
}
