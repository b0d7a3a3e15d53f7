import { describe, expect, it } from 'vitest';
import { candidateKeys, chainKeyOf, describeChain, renderChain } from '../../ops/chain-view.js';

/** A failure chain item in the ledger's format: retried once, then its new task failed and was dead-lettered. */
const P = '0a1b2c3d4e5f60718293a4b5c6d7e8f9';
const chain = {
  pk: `${P}#record#rec-root`,
  project_id: P,
  root_record: 'rec-root',
  resource_id: 'desktop-7',
  script_id: 'script-1',
  state: 'dead-lettered',
  attempts: 2,
  current_record: 'rec-second',
  current_task: 'task-new-1',
  tasks: ['task-0', 'task-new-1'],
  reason: '2 attempts made, max_attempts is 2',
  rule_id: 'max-attempts',
  error_code: 'WKS.SCRIPT_TIMEOUT',
  dead_lettered_at: Date.parse('2026-11-29T10:20:00Z'),
  first_seen_at: Date.parse('2026-11-29T10:00:00Z'),
  last_attempt_at: Date.parse('2026-11-29T10:10:00Z'),
  history: [
    {
      attempt: 1,
      at: '2026-11-29T10:01:00.000Z',
      outcome: 'retried',
      rule_id: 'timeout',
      task_id: 'task-new-1',
      request_id: 'req-1',
    },
    {
      attempt: 2,
      at: '2026-11-29T10:10:00.000Z',
      outcome: 'deferred',
      rule_id: 'timeout',
      error_code: 'APIG.0613',
      request_id: 'req-2',
      record_id: 'rec-second',
    },
    {
      attempt: 2,
      at: '2026-11-29T10:20:00.000Z',
      outcome: 'dead-lettered',
      rule_id: 'max-attempts',
      reason: '2 attempts made, max_attempts is 2',
      forced_by: 'ops ticket 42',
    },
  ],
  rev: 5,
  expires_at: Math.floor(Date.parse('2026-12-29T10:00:00Z') / 1000),
};
const link = { pk: `${P}#task#task-new-1`, link_to: chain.pk, generation: 1 };

describe('ops status: the ledger view of one failure', () => {
  it('looks an id up as a record and as a task, and follows a link to its chain', () => {
    expect(candidateKeys(P, 'x')).toEqual([`${P}#record#x`, `${P}#task#x`]);
    expect(chainKeyOf(link)).toBe(chain.pk);
    expect(chainKeyOf(chain)).toBe(chain.pk);
  });

  it('describes state, attempts, desktop, script, lineage and every history entry with its task, request and error code', () => {
    const view = describeChain(chain, link);
    expect(view).toMatchObject({
      state: 'dead-lettered',
      attempts: 2,
      resource_id: 'desktop-7',
      script_id: 'script-1',
      tasks: ['task-0', 'task-new-1'],
      via: { pk: link.pk, generation: 1 },
    });
    expect(view.dead_lettered_at).toBe('2026-11-29T10:20:00.000Z');
    expect(view.expires_at).toBe('2026-12-29T10:00:00.000Z');
    expect(view.history).toHaveLength(3);
    expect(view.history[1]).toEqual({
      attempt: 2,
      at: '2026-11-29T10:10:00.000Z',
      outcome: 'deferred',
      rule_id: 'timeout',
      error_code: 'APIG.0613',
      request_id: 'req-2',
      record_id: 'rec-second',
    });
  });

  it('prints a summary and one table row per history entry', () => {
    const text = renderChain(describeChain(chain, link), Date.parse('2026-11-29T11:00:00Z'));
    expect(text).toContain(`found via      ${link.pk} (link, generation 1)`);
    expect(text).toContain('lineage        task-0 -> task-new-1');
    expect(text).toMatch(/^state\s+dead-lettered$/m);
    const rows = text.split('\n').slice(text.split('\n').indexOf('history') + 3);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^1\s+2026-11-29T10:01:00.000Z\s+retried\s+timeout\s+task-new-1\s+req-1/);
    expect(rows[1]).toContain('(record rec-second)');
    expect(rows[1]).toContain('APIG.0613');
    expect(rows[2]).toContain('forced by: ops ticket 42');
  });

  it('says when a claim holds its lease and when the lease has expired', () => {
    const claimed = { ...chain, state: 'claimed', lease_until: Date.parse('2026-11-29T11:00:30Z'), history: [] };
    expect(renderChain(describeChain(claimed, claimed), Date.parse('2026-11-29T11:00:00Z'))).toContain(
      'claimed (lease held for 30 s more)',
    );
    expect(renderChain(describeChain(claimed, claimed), Date.parse('2026-11-29T11:01:00Z'))).toContain(
      'claimed (lease expired: the next delivery takes over)',
    );
    expect(renderChain(describeChain(claimed, claimed), 0)).toContain('(no attempt recorded yet)');
  });

  it('refuses an item that is not a failure chain, naming its key', () => {
    expect(() => describeChain({ pk: `sweep#${P}`, watermark: 1 }, { pk: `sweep#${P}` })).toThrow(
      `ledger item sweep#${P} is not a failure chain: it has no "state"`,
    );
  });
});
