"""Runtime switches operators flip without a redeploy, and the audit trail of every flip."""

from django.conf import settings
from django.db import models

from odiadev.core.models import TimestampedModel


class Switch(TimestampedModel):
    name = models.SlugField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True)
    reason = models.TextField(blank=True, help_text="Why it is in its current state.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {'on' if self.enabled else 'off'}"


class SwitchChange(models.Model):
    """Append-only: who (or what: the OOM breaker) changed which switch, when, and why."""

    switch = models.ForeignKey(Switch, on_delete=models.CASCADE, related_name="changes")
    enabled = models.BooleanField()
    reason = models.TextField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=100, help_text="The operator's email, or the automatic actor.")
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.switch.name} -> {'on' if self.enabled else 'off'} by {self.actor}"
