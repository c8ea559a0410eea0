"""Container healthcheck: the app's health endpoint answers 200 (no curl in slim images)."""
import os
import sys
import urllib.request

url = f"http://127.0.0.1:{os.environ.get('BACKEND_PORT', '8000')}{os.environ.get('HEALTH_PATH', '/')}"
try:
    with urllib.request.urlopen(url, timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
