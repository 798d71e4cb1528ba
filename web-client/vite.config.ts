import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The build is deployment-neutral: URLs and the anon key come from /config.json at runtime (see serve.ts), so one
// build serves every environment and no secret is ever baked into the bundle.
// No source maps in the production build: they would publish the unminified source next to the page and roughly
// double what is deployed, for no user's benefit. Debugging a deployed build: `vite build --sourcemap hidden`
// writes maps that the bundle does not reference, to keep (or upload to an error tracker) and never serve.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 1500 },
});
