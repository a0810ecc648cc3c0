// The console's build: web/ sources into dist/web, served by the server at `/` (docs/console.md).
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const web = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root: web,
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // The API is on the same origin: nothing to proxy, no base path.
    assetsDir: "assets",
    reportCompressedSize: false,
    // The budget that matters is the compressed first load, checked by scripts/build-web.ts.
    chunkSizeWarningLimit: 800,
  },
  logLevel: "warn",
});
