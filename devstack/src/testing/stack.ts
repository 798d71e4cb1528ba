import { inject } from 'vitest';
import type { StackInfo } from '../stack-info.ts';
import './provided-context.ts';

/** The running stack, in an integration or e2e test file (provided by the global setup). */
export function testStack(): StackInfo {
  const stack = inject('stack');
  if (!stack) {
    throw new Error(
      'No stack: run this file in the `integration` vitest project (e.g. `npx vitest run --project integration <file>`).',
    );
  }
  return stack;
}
