import json

from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from demo.models import Reading, TaskRun


def health(request):
    """200 only when the database answers and TimescaleDB is installed in it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
            row = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - report any database failure as unhealthy
        return JsonResponse({"status": "error", "database": str(exc.__class__.__name__)}, status=503)
    if row is None:
        return JsonResponse({"status": "error", "timescaledb": None}, status=503)
    return JsonResponse({"status": "ok", "database": "ok", "timescaledb": row[0]})


@require_http_methods(["GET", "POST"])
def readings(request):
    """GET: anyone. POST: a signed-in user only (a session from /admin/login/), with Django's CSRF check
    (the SPA sends the csrftoken cookie back as X-CSRFToken); without them 403 (no token) or 401."""
    if request.method == "POST":
        if not request.user.is_authenticated:
            return JsonResponse({"error": "sign in at /admin/login/ to add readings"}, status=401)
        try:
            value = float(json.loads(request.body or b"{}").get("value"))
        except (TypeError, ValueError):
            return JsonResponse({"error": "send JSON {\"value\": <number>}"}, status=400)
        reading = Reading.objects.create(time=timezone.now(), value=value)
        return JsonResponse({"time": reading.time.isoformat(), "value": reading.value}, status=201)
    rows = [{"time": r.time.isoformat(), "value": r.value} for r in Reading.objects.all()[:20]]
    return JsonResponse({"readings": rows, "count": Reading.objects.count()})


def tasks(request):
    """What the background tasks did: the summary a write enqueued, beat's heartbeat, long tasks."""
    runs = {r.key: {"kind": r.kind, "attempts": r.attempts, "finished": r.finished.isoformat() if r.finished else None,
                    "result": r.result} for r in TaskRun.objects.all()}
    return JsonResponse({"tasks": runs})
