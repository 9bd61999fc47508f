import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build lands inside the Python package so `keyhouse serve` can serve it at "/".
export default defineConfig({
  plugins: [react()],
  base: "./",
  build: {
    outDir: "../src/keyhouse/ui/static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:5000",
      "/v1": "http://127.0.0.1:5000",
    },
  },
});
