import type { StackInfo } from '../stack-info.ts';

// What the integration global setup hands to every test file: `inject('stack')` is typed StackInfo.
declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

export type { StackInfo };
