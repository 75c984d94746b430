import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The front end lives in web/ and is built into dist/, which the API serves.
export default defineConfig({
  root: 'web',
  plugins: [react()],
  build: { outDir: '../dist', emptyOutDir: true },
  server: { proxy: { '/api': process.env.API_URL ?? 'http://127.0.0.1:3000', '/media': process.env.API_URL ?? 'http://127.0.0.1:3000' } },
});
