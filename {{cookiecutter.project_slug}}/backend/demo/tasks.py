"""The example's background work: what the layout's worker and beat services run."""
import time

from celery import shared_task
from django.db.models import Avg, Count, F
from django.utils import timezone

from demo.models import Reading, TaskRun


def _record(key: str, kind: str, **result) -> None:
    TaskRun.objects.update_or_create(key=key, defaults={"kind": kind, "finished": timezone.now(), "result": result})


@shared_task
def summarize():
    """Enqueued by every new reading (demo.signals): the summary /api/tasks/ shows."""
    stats = Reading.objects.aggregate(count=Count("value"), mean=Avg("value"))
    _record("summary", "summary", **stats)


@shared_task
def heartbeat():
    """Run by beat on the schedule in settings (CELERY_BEAT_SCHEDULE)."""
    run, _ = TaskRun.objects.get_or_create(key="heartbeat", defaults={"kind": "heartbeat"})
    TaskRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1, finished=timezone.now())


@shared_task
def slow(key: str, seconds: float):
    """A long task: counts its attempts before it works, so a task that ran again shows 2."""
    run, _ = TaskRun.objects.get_or_create(key=key, defaults={"kind": "slow"})
    TaskRun.objects.filter(pk=run.pk).update(attempts=F("attempts") + 1)
    time.sleep(seconds)
    TaskRun.objects.filter(pk=run.pk).update(finished=timezone.now(), result={"slept": seconds})
