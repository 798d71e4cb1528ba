import { describe, expect, it } from 'vitest';
import { JobCapacity, type RunningJobs } from '../../src/job-admission.ts';

function worker(...ids: string[]): RunningJobs & { run(...more: string[]): void; end(id: string): void } {
  const jobs = ids.map((id) => ({ job: { id } }));
  return {
    get activeJobs() {
      return jobs;
    },
    run: (...more) => jobs.push(...more.map((id) => ({ job: { id } }))),
    end: (id) =>
      jobs.splice(
        jobs.findIndex((j) => j.job.id === id),
        1,
      ),
  };
}

describe('JobCapacity: the worker call cap, checked when a job is offered', () => {
  it('refuses a second job offered before the first one runs (the load report has not gone out yet)', () => {
    const capacity = new JobCapacity(1);
    expect(capacity.reserve('a')).toBe(true);
    expect(capacity.reserve('b')).toBe(false);
  });

  it('counts a job once, whether it is only accepted or already running, and frees its slot when it ends', () => {
    const w = worker();
    const capacity = new JobCapacity(2);
    capacity.observe(w);
    expect(capacity.reserve('a')).toBe(true);
    w.run('a');
    expect(capacity.reserve('b')).toBe(true);
    expect(capacity.reserve('c')).toBe(false);
    w.run('b');
    w.end('a');
    expect(capacity.reserve('c')).toBe(true);
    expect(capacity.reserve('d')).toBe(false);
  });

  it('frees the slot of a job that ran and ended between two offers (seen in the load reports)', () => {
    const w = worker();
    const capacity = new JobCapacity(1);
    capacity.observe(w);
    expect(capacity.reserve('a')).toBe(true);
    w.run('a');
    capacity.observe(w);
    w.end('a');
    capacity.observe(w);
    expect(capacity.reserve('b')).toBe(true);
  });

  it('counts jobs already running when it starts observing (a worker restarted with calls)', () => {
    const capacity = new JobCapacity(2);
    capacity.observe(worker('x', 'y'));
    expect(capacity.reserve('z')).toBe(false);
  });

  it('lets an accepted job that never started stop holding its slot after 30 s', () => {
    let now = 0;
    const capacity = new JobCapacity(1, () => now);
    capacity.observe(worker());
    expect(capacity.reserve('lost')).toBe(true);
    now = 29_000;
    expect(capacity.reserve('next')).toBe(false);
    now = 31_000;
    expect(capacity.reserve('next')).toBe(true);
  });
});
