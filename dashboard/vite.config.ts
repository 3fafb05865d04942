// Builds the dashboard into dist/, which is committed and compiled into the sigil binary
// (src/http/dashboard_page.rs). File names are fixed, with no hash: the server revalidates
// them by ETag, and src/http/dashboard_page.rs names each one.
import { defineConfig } from "vite";

export default defineConfig({
  // Relative URLs: the page is served at /t/{tenant}/dashboard/ for every tenant, and under
  // whatever path prefix the public URL has.
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    // One bundle on purpose (the page is one document); its budget is on the compressed size,
    // 300 KB for JS and CSS together, which scripts/build-dashboard.sh enforces.
    chunkSizeWarningLimit: 1000,
    rolldownOptions: {
      output: {
        entryFileNames: "assets/app.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/app[extname]",
        codeSplitting: false,
      },
    },
  },
});
