import { describe, expect, it } from 'vitest';
import { parseManualPayload } from '../../lib/ways-in/manual.js';
import { PROJECT_ID } from '../helpers/factories.js';

const anyRegion = () => undefined;

describe('the console payload', () => {
  it('reads a null field as absent, as in an event: a null task_id beside a record id is not a second target', () => {
    // Act
    const parsed = parseManualPayload(
      { project_id: PROJECT_ID, record_id: 'rec-1', task_id: null, region: null, dry_run: null },
      anyRegion,
    );

    // Assess
    expect(parsed).toEqual({ items: [{ project_id: PROJECT_ID, record_id: 'rec-1' }] });
  });

  it('still names a field that is required and null', () => {
    const parsed = parseManualPayload({ items: [{ project_id: null, record_id: 'rec-1' }] }, anyRegion);

    expect(parsed).toEqual({ errors: [{ field: 'items.0.project_id', problem: 'is required' }] });
  });
});
