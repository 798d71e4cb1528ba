import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The build is deployment-neutral: URLs and the anon key come from /config.json at runtime (see serve.ts), so one
// build serves every environment and no secret is ever baked into the bundle.
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
});
