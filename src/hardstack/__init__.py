"""hardstack: hardened deployment layouts for Django + Vite/React."""

__version__ = "0.1.0"  # the one place; pyproject reads it (hatch), the deploy workflow pins it
