import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The product knows nothing of the dev stack: how the dev stack starts the services lives in devstack/src/services,
// and the product packages (what the Docker image ships) never import it. An import from there would drag the dev
// stack (embedded Postgres, stand-ins) into production and make a cycle with devstack, which imports them.
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PRODUCT = ['core/src', 'token-service/src', 'agent/src', 'web-client/src', 'web-client/serve.ts'];

function sourceFiles(path: string): string[] {
  const full = join(REPO_ROOT, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full).flatMap((entry) => sourceFiles(join(path, entry)));
}

describe('product packages', () => {
  it('import nothing from the dev stack', () => {
    const offenders = PRODUCT.flatMap(sourceFiles)
      .filter((file) => /\.tsx?$/.test(file))
      .filter((file) => /from ['"](@voice\/devstack|[./]+\/devstack\/)/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(REPO_ROOT, file));
    expect(offenders).toEqual([]);
  });
});
