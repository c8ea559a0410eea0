from django.db import models


class Reading(models.Model):
    """A time series row; its table is a TimescaleDB hypertable (see migration 0002)."""

    time = models.DateTimeField(primary_key=True)
    value = models.FloatField()

    class Meta:
        ordering = ["-time"]


class TaskRun(models.Model):
    """What the example's background tasks did (demo.tasks), shown by /api/tasks/."""

    key = models.CharField(max_length=100, primary_key=True)
    kind = models.CharField(max_length=30)
    attempts = models.IntegerField(default=0)
    finished = models.DateTimeField(null=True)
    result = models.JSONField(default=dict)
