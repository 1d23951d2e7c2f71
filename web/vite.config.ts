// The three apps are one multi-page build: dist/{app,driver,ops}/index.html share dist/assets/.
// The API binary serves dist/ (WEB_DIR); nothing is fetched from another host at run time.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    rollupOptions: {
      input: {
        app: "app/index.html",
        driver: "driver/index.html",
        ops: "ops/index.html",
      },
    },
  },
  server: {
    // `npm run dev` during development: the apps from Vite, the API from the running binary.
    proxy: Object.fromEntries(
      ["/auth", "/dev", "/calls", "/quotes", "/places", "/catches", "/dashboards", "/drivers", "/payments", "/operations"].map(
        (p) => [p, "http://127.0.0.1:8080"],
      ),
    ),
  },
});
