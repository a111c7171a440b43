import { describe, expect, it } from 'vitest';
import { eventOfChange } from '../src/predictions/transitions.ts';
import { isTerminal, PREDICTION_STATUSES, TERMINAL_STATUSES, UNFINISHED_STATUSES } from '../src/vocabulary.ts';

describe('prediction statuses', () => {
  it('are each either unfinished or final, in the order of the enum', () => {
    expect([...UNFINISHED_STATUSES, ...TERMINAL_STATUSES]).toEqual([...PREDICTION_STATUSES]);
    expect(PREDICTION_STATUSES.filter(isTerminal)).toEqual(TERMINAL_STATUSES);
  });

  it('say which webhook event a change is: any end COMPLETED, Atlas taking the job STARTED, else UPDATED', () => {
    for (const previous of UNFINISHED_STATUSES)
      for (const next of TERMINAL_STATUSES) expect(eventOfChange(previous, next)).toBe('COMPLETED');
    expect(eventOfChange('STARTING', 'PROCESSING')).toBe('STARTED');
    expect(eventOfChange('PROCESSING', 'PROCESSING')).toBe('UPDATED');
    expect(eventOfChange('STARTING', 'STARTING')).toBe('UPDATED');
  });
});
