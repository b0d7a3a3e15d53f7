import { randomUUID } from 'node:crypto';
import { type Message, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, vi } from 'vitest';
import { batchesOf } from '../../lib/platform/queue-sender.js';
import { takeAll } from '../../local/drain-queue.js';
import { FaultyProxy } from '../../local/faulty-proxy.js';
import { captureStdout } from '../../local/log-capture.js';
import { LocalEventSource, lambdaContext, type QueueHandler } from '../../local/poller.js';
import { type LocalStack, type StackOptions, startLocalStack } from '../../local/stack.js';

/**
 * Starts a real local stack for a test file and loads a handler against it,
 * with the environment it needs (restored afterwards).
 */
export interface Harness {
  readonly stack: LocalStack;
  /** Imports a function module afresh with the stack's environment plus `env`. */
  loadHandler<T = QueueHandler>(
    module: 'queue' | 'schedule' | 'manual' | 'ingress',
    env?: Record<string, string | undefined>,
  ): Promise<T>;
  /** Sends bodies to the source queue; returns their message ids in order. */
  send(bodies: readonly string[], attributes?: Record<string, string>): Promise<string[]>;
  /**
   * Runs the queue handler as the event source mapping would until the queue has nothing visible or in flight (and,
   * with `delayed`, nothing delayed).
   */
  drain(handler: QueueHandler, timeoutMs?: number, options?: { delayed?: boolean }): Promise<void>;
  /** Receives (and deletes) everything on a queue. */
  takeAll(queueUrl: string): Promise<Message[]>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startHarness(options: StackOptions = {}): Promise<Harness> {
  const stack = await startLocalStack({
    name: `t${process.pid}-${++counter}-${randomUUID().slice(0, 6)}`,
    visibilityTimeoutSeconds: 1,
    ...options,
  });
  const saved = { ...process.env };
  return {
    stack,
    async loadHandler<T>(module: string, env: Record<string, string | undefined> = {}) {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved, stack.env, {
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      });
      for (const [key, value] of Object.entries(env)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      vi.resetModules();
      return ((await import(`../../functions/${module}.ts`)) as { handler: T }).handler;
    },
    async send(bodies, attributes = {}) {
      const ids: string[] = [];
      const messageAttributes = Object.fromEntries(
        Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
      );
      // Batches SQS takes: at most 10 messages and 1 MiB.
      for (const batch of batchesOf(
        bodies.map((body, index) => ({ key: String(index), body, attributes: messageAttributes })),
      )) {
        const result = await stack.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: stack.queueUrl,
            Entries: batch.map((m, index) => ({
              Id: String(index),
              MessageBody: m.body,
              MessageAttributes: m.attributes,
            })),
          }),
        );
        const byId = new Map((result.Successful ?? []).map((s) => [Number(s.Id), s.MessageId!]));
        batch.forEach((_, index) => ids.push(byId.get(index)!));
      }
      return ids;
    },
    async drain(handler, timeoutMs = 30_000, options = {}) {
      const poller = new LocalEventSource({
        sqs: stack.sqs,
        queueUrl: stack.queueUrl,
        queueArn: stack.queueArn,
        handler,
      });
      await poller.runUntil(async () => {
        const depth = await stack.depth(stack.queueUrl);
        return depth.visible === 0 && depth.inFlight === 0 && (!options.delayed || depth.delayed === 0);
      }, timeoutMs);
    },
    takeAll(queueUrl) {
      return takeAll(stack.sqs, queueUrl);
    },
    async stop() {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      await stack.stop();
    },
  };
}

/** An SQS event as Lambda delivers it, for invoking a handler directly. */
export function sqsEvent(bodies: readonly string[], queueArn = 'arn:aws:sqs:us-east-1:000000000000:q'): SQSEvent {
  return {
    Records: bodies.map(
      (body): SQSRecord => ({
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: String(Date.now()),
          SenderId: 'test',
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: queueArn,
        awsRegion: 'us-east-1',
      }),
    ),
  };
}

export function invoke(handler: QueueHandler, event: SQSEvent): Promise<SQSBatchResponse> {
  return handler(event, lambdaContext('retryFromQueue', 120_000) as Context) as Promise<SQSBatchResponse>;
}

/** A message attribute's string value. */
export function attr(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

/** Runs `act` with stdout captured and returns the outcome lines it logged. */
export async function outcomesOf(act: () => Promise<unknown>): Promise<Array<Record<string, unknown>>> {
  const capture = captureStdout();
  try {
    await act();
  } finally {
    capture.restore();
  }
  return capture.outcomes();
}

/** A harness whose ledger table is reached through a FaultyProxy (DynamoDB's answers played in front of dynalite). */
export interface ProxiedHarness {
  readonly h: Harness;
  readonly proxy: FaultyProxy;
}

/** Starts a ProxiedHarness before the file's tests and stops it after them; its fields are set once they start. */
export function proxiedHarnessForFile(): ProxiedHarness {
  const stand = {} as { h: Harness; proxy: FaultyProxy };
  beforeAll(async () => {
    stand.h = await startHarness();
    stand.proxy = await FaultyProxy.start(stand.h.stack.dynamoEndpoint);
  });
  afterAll(async () => {
    await stand.proxy.stop();
    await stand.h.stop();
  });
  return stand;
}
