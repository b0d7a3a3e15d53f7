import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LOCAL_KEY } from '../../local/stack.js';

/**
 * `npm start`, the README's first command, run as a newcomer runs it: the
 * queue function on the embedded local stack over every sample event
 * (local/start.ts), checked by what it prints.
 */
describe('npm start', () => {
  it('drains the samples: 7 retries, 6 dead letters with reasons, a copy as duplicate, and the stopped desktop woken then retried once', async () => {
    // Act
    const { stdout, stderr } = await promisify(execFile)('npm', ['start', '--silent'], {
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    const output = stdout + stderr;
    // Assess: the summary line, each outcome, the woken desktop's story, and no secret in the output.
    expect(output).toMatch(/simulator accepted 7 retries; dead-letter queue holds 6; 0 deferred/);
    expect(output).toMatch(/01-plain-record-timeout\.json\s+record#\w+\s+duplicate\s+run 1 of this failure/);
    expect(output).toMatch(
      /09-poison-path-traversal\.json\s+\(unreadable\)\s+dead-lettered\s+invalid-event: body\.project_id/,
    );
    expect(output).toMatch(/SMN notification → ingress\s+record#\w+\s+retried/);
    expect(output).toMatch(
      /11-plain-record-desktop-stopped\.json: desktop \S+ was SHUTOFF; started once \(os-start\), then deferred \(desktop-waking\).* → retried \(attempt 1\); its script was run again once\./,
    );
    expect(output).not.toContain(LOCAL_KEY.sk);
  }, 150_000);
});
