"""hardstack: hardened deployment layouts for Django + Vite/React."""
