import type { LedgerStore, TogetherWrite } from '../../lib/ledger/store.js';
import type { QueueSender } from '../../lib/platform/queue-sender.js';
import type { WorkspaceClient } from '../../lib/workspace/client.js';
import type { DesktopCalls } from '../../lib/workspace/desktop-reads.js';
import { WorkspaceApiError } from '../../lib/workspace/errors.js';
import type { DesktopFleet } from '../../local/workspace-desktops.js';
import { detailByFleet, listedByFleet, startAnswer } from '../helpers/desktops.js';
import type { MemoryLedgerStore } from './memory-ledger-store.js';
import type { QueueModel } from './queue-model.js';
import type { WorkspaceModel } from './workspace-model.js';

/**
 * One Lambda invocation's view of the outside world. Every call it makes
 * (ledger, Workspace, SQS) waits for the fast-check scheduler, which picks the
 * order in which concurrent invocations' calls land. A crash kills the
 * process at a point: from then on nothing it does has any effect (each call
 * throws) and its batch response is lost, so nothing it received is deleted.
 */

export type CrashPoint = 'none' | 'before-call' | 'after-call' | 'after-settle' | { readonly afterOp: number };

export class ProcessCrashed extends Error {
  override readonly name = 'ProcessCrashed';
}

export type Gate = (label: string) => Promise<void>;

export class Invocation {
  dead = false;
  private ops = 0;
  /** Every call it made, in order (a dry run's must all be reads). */
  readonly calls: string[] = [];

  constructor(
    readonly name: string,
    readonly crash: CrashPoint,
    private readonly gate: Gate,
  ) {}

  /** The batch response reaches Lambda only if the process lived to the end. */
  get answered(): boolean {
    return !this.dead && this.crash !== 'after-settle';
  }

  async io<T>(label: string, effect: () => T | Promise<T>, isRetryCall = false): Promise<T> {
    await this.gate(`${this.name} ${label}`);
    if (this.dead) throw new ProcessCrashed(`${this.name} is dead`);
    if (isRetryCall && this.crash === 'before-call') return this.die();
    this.ops++;
    this.calls.push(label);
    let result: T;
    try {
      result = await effect();
    } catch (error) {
      if (this.diesNow(isRetryCall)) return this.die();
      throw error;
    }
    if (this.diesNow(isRetryCall)) return this.die();
    return result;
  }

  store(store: MemoryLedgerStore): LedgerStore {
    return {
      read: (pk) => this.io(`read ${pk}`, () => store.read(pk)),
      write: (item, rev) => this.io(`write ${item.pk}@${rev}`, () => store.write(item, rev)),
      put: (item) => this.io(`put ${item.pk}`, () => store.put(item)),
      putAll: (items) => this.io(`putAll ${items.map((i) => i.pk).join(',')}`, () => store.putAll(items)),
      putMarker: (marker) => this.io(`putMarker ${marker.pk}`, () => store.putMarker(marker)),
      writeTogether: (writes) =>
        this.io(`together ${writes.map(togetherLabel).join(' + ')}`, () => store.writeTogether(writes)),
    };
  }

  workspace(ws: WorkspaceModel): WorkspaceClient {
    const io = this.io.bind(this);
    const client: Pick<WorkspaceClient, 'retry' | 'getRecord' | 'listRecords' | 'endpointOf' | 'describeRetry'> = {
      retry: (_project, target) => io(`retry ${target.recordId ?? target.taskId}`, () => ws.retry(target), true),
      getRecord: (_project, recordId) => io(`getRecord ${recordId}`, () => ws.getRecord(recordId)),
      async *listRecords(_project, filters) {
        yield* await io(`list ${JSON.stringify(filters)}`, () => ws.list(filters));
      },
      endpointOf: () => 'https://workspace.cn-north-4.model',
      describeRetry: (_project, target) => ({
        method: 'POST',
        url: 'https://workspace.cn-north-4.model/retry',
        body: JSON.stringify(target),
        signedHeaderNames: [],
      }),
    };
    return client as unknown as WorkspaceClient;
  }

  /**
   * Workspace's desktop calls over the simulator's fleet, on the model's
   * clock: reads are `read …` (a dry run may make them), a start is an effect.
   * `started` hears of every start that reached Workspace.
   */
  desktops(fleet: DesktopFleet, ws: WorkspaceModel, started: (desktopId: string) => void): DesktopCalls {
    const io = this.io.bind(this);
    return {
      readDesktops: (project, ids) =>
        io(`read desktops ${[...ids].join(',')}`, () => {
          ws.readFault();
          return listedByFleet(fleet, project.projectId, ids);
        }),
      showDesktop: (project, id) =>
        io(`read desktop ${id}`, () => {
          ws.readFault();
          return detailByFleet(fleet, project.projectId, id, `desktop ${id} does not exist (model)`);
        }),
      runDesktops: (project, action) =>
        io(`start ${action.desktopIds.join(',')}`, () => {
          const fault = ws.takeStartFault();
          if (fault === 'before-503')
            throw new WorkspaceApiError({ status: 503, code: 'HTTP_503', message: 'start unavailable (model)' });
          const result = fleet.run(project.projectId, action.desktopIds, action.opType);
          if (result.ok)
            for (const id of action.desktopIds) if (!result.failed.some((f) => f.desktop_id === id)) started(id);
          if (fault === 'lose-TIMEOUT')
            throw new WorkspaceApiError({ code: 'TIMEOUT', message: 'start answer lost (model)' });
          return startAnswer(result);
        }),
      describeAction: (_project, action) => ({
        method: 'POST',
        url: 'https://workspace.cn-north-4.model/desktops/action',
        body: JSON.stringify(action),
        signedHeaderNames: [],
      }),
    };
  }

  sender(queue: QueueModel): QueueSender {
    const sender: Pick<QueueSender, 'sendAll' | 'queueUrl'> = {
      queueUrl: `https://sqs.model/${queue.name}`,
      sendAll: (messages) => this.io(`send ${queue.name} x${messages.length}`, () => queue.sendAll(messages)),
    };
    return sender as QueueSender;
  }

  private diesNow(isRetryCall: boolean): boolean {
    return (
      (isRetryCall && this.crash === 'after-call') ||
      (typeof this.crash === 'object' && this.ops === this.crash.afterOp)
    );
  }

  private die(): never {
    this.dead = true;
    throw new ProcessCrashed(`${this.name} crashed`);
  }
}

/** How one write of a set written together reads in a call's label: as the call it would be alone. */
function togetherLabel(write: TogetherWrite): string {
  if (write.kind === 'write') return `write ${write.item.pk}@${write.expectedRev}`;
  return write.kind === 'put' ? `put ${write.item.pk}` : `putMarker ${write.marker.pk}`;
}
