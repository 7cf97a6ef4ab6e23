"""Waiting for a job to finish (requests sent with `"wait": true`, the OpenAI-compatible endpoint)."""

from __future__ import annotations

import logging
import time

from .models import SynthesisJob

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------------------
# Waiting and sweeping
# ---------------------------------------------------------------------------------------------------------------
def synthesis_job_wait(*, job: SynthesisJob, timeout: float) -> SynthesisJob:
    """Block until the job is final or `timeout` seconds pass; return the freshest row either way."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not job.is_final and time.monotonic() < deadline:
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 1.5, 0.25)
        job.refresh_from_db()
    return job
