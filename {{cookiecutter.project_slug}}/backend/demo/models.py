from django.db import models


class Reading(models.Model):
    """A time series row; its table is a TimescaleDB hypertable (see migration 0002)."""

    time = models.DateTimeField(primary_key=True)
    value = models.FloatField()

    class Meta:
        ordering = ["-time"]
