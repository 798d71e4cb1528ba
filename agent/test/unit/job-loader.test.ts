import { describe, expect, it } from 'vitest';
import { applyJobMallocArenas, nodeStripsTypes, withoutTsxLoader } from '../../src/job-loader.ts';

const TSX = '/srv/app/node_modules/tsx/dist';

describe('withoutTsxLoader', () => {
  it("drops tsx's preflight and loader, as tsx's CLI passes them to the process it starts", () => {
    expect(
      withoutTsxLoader(['--require', `${TSX}/preflight.cjs`, '--import', `file://${TSX}/loader.mjs`]),
    ).toEqual([]);
  });

  it('keeps every other flag, in order, also the = forms of other preloads', () => {
    expect(
      withoutTsxLoader([
        '--max-semi-space-size=4',
        '--require',
        `${TSX}/preflight.cjs`,
        '--require=/tmp/profile-preload.cjs',
        `--import=file://${TSX}/loader.mjs`,
        '--import',
        'file:///srv/app/otel.mjs',
        '--single-threaded-gc',
      ]),
    ).toEqual([
      '--max-semi-space-size=4',
      '--require=/tmp/profile-preload.cjs',
      '--import',
      'file:///srv/app/otel.mjs',
      '--single-threaded-gc',
    ]);
  });

  it('leaves a list without tsx alone', () => {
    expect(withoutTsxLoader([])).toEqual([]);
    expect(withoutTsxLoader(['--import', 'file:///srv/app/tsx-like/loader.mjs'])).toEqual([
      '--import',
      'file:///srv/app/tsx-like/loader.mjs',
    ]);
  });
});

describe('nodeStripsTypes', () => {
  it("reads process.features.typescript (Node 22.18+: 'strip'; Node 20: absent; turned off: false)", () => {
    expect(nodeStripsTypes({ typescript: 'strip' })).toBe(true);
    expect(nodeStripsTypes({ typescript: 'transform' })).toBe(true);
    expect(nodeStripsTypes({ typescript: false })).toBe(false);
    expect(nodeStripsTypes({})).toBe(false);
  });
});

describe('applyJobMallocArenas', () => {
  it("caps glibc's malloc arenas at 2 for the forks, unless the operator chose a value", () => {
    const unset: NodeJS.ProcessEnv = {};
    applyJobMallocArenas(unset);
    expect(unset.MALLOC_ARENA_MAX).toBe('2');
    const chosen: NodeJS.ProcessEnv = { MALLOC_ARENA_MAX: '8' };
    applyJobMallocArenas(chosen);
    expect(chosen.MALLOC_ARENA_MAX).toBe('8');
  });
});
