"""Job events to the owner's websockets."""

from odiadev.core.events import user_event_send

from .models import SynthesisJob
from .serializers import job_payload


def job_event_send(job: SynthesisJob) -> None:
    """Announce the job's current state to its owner; deferred until the surrounding transaction commits."""
    user_event_send(job.user_id, "job.updated", "job", job_payload(job))
