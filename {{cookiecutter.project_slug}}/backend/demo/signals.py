"""Ordinary writes enqueue background work, once the write has committed."""
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from demo.models import Reading


@receiver(post_save, sender=Reading)
def summarize_after_write(sender, instance, created, **kwargs):
    from demo.tasks import summarize

    if settings.CELERY_BROKER_URL:
        transaction.on_commit(summarize.delay)
