import { defineConfig } from "vite";

// Hashed file names under assets/ are what the nginx config caches for a year.
export default defineConfig({
  build: { outDir: "{{ cookiecutter.frontend_dist_dir }}", assetsDir: "assets" },
});
