import { createLogger } from '@voice/core';
import { describe, expect, it } from 'vitest';
import { PermanentWriteError, WriteQueue } from '../../src/persistence/write-queue.ts';

const logger = createLogger({ name: 'test', level: 'silent' });

/** A store that is "down" until `upAt` and records what landed (keyed writes, like an upsert). */
function flakyStore(failures: number) {
  const rows = new Map<string, string>();
  const attempts: string[] = [];
  let remaining = failures;
  return {
    rows,
    attempts,
    write(key: string, value: string) {
      return async () => {
        attempts.push(key);
        if (remaining > 0) {
          remaining--;
          throw new Error('connection refused');
        }
        rows.set(key, value);
      };
    },
  };
}

describe('write queue', () => {
  it('returns at once, retries with backoff while the store is down, and keeps order', async () => {
    const store = flakyStore(3);
    const queue = new WriteQueue({ logger, initialBackoffMs: 5, maxBackoffMs: 20 });
    // enqueue returns nothing to await (the caller never waits), while the store is still failing.
    expect(queue.enqueue({ key: 'a', kind: 'message', run: store.write('a', '1') })).toBeUndefined();
    expect(queue.enqueue({ key: 'b', kind: 'message', run: store.write('b', '2') })).toBeUndefined();
    expect(store.rows.size).toBe(0);
    expect(await queue.flush(2_000)).toBe(true);
    expect([...store.rows.entries()]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect(store.attempts).toEqual(['a', 'a', 'a', 'a', 'b']);
  });

  it('coalesces pending writes with the same key (usage checkpoints) into the newest', async () => {
    const store = flakyStore(2);
    const queue = new WriteQueue({ logger, initialBackoffMs: 10, maxBackoffMs: 20 });
    queue.enqueue({ key: 'usage', kind: 'usage', run: store.write('usage', 'v1') });
    queue.enqueue({ key: 'usage', kind: 'usage', run: store.write('usage', 'v2') });
    queue.enqueue({ key: 'usage', kind: 'usage', run: store.write('usage', 'v3') });
    expect(await queue.flush(2_000)).toBe(true);
    expect(store.rows.get('usage')).toBe('v3');
    expect(store.attempts.length).toBeLessThanOrEqual(3);
  });

  it('drops a write that can never succeed instead of blocking the ones behind it', async () => {
    const queue = new WriteQueue({ logger, initialBackoffMs: 5 });
    const landed: string[] = [];
    queue.enqueue({
      key: 'bad',
      kind: 'message',
      run: async () => {
        throw new PermanentWriteError('23503 foreign key violation');
      },
    });
    queue.enqueue({ key: 'good', kind: 'message', run: async () => void landed.push('good') });
    expect(await queue.flush(1_000)).toBe(true);
    expect(landed).toEqual(['good']);
  });

  it('gives up flushing after its timeout and says so', async () => {
    const queue = new WriteQueue({ logger, initialBackoffMs: 50, maxBackoffMs: 50 });
    queue.enqueue({
      key: 'x',
      kind: 'message',
      run: async () => {
        throw new Error('still down');
      },
    });
    expect(await queue.flush(120)).toBe(false);
    expect(queue.size).toBe(1);
  });
});
