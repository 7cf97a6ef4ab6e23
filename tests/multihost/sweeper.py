"""The multi-host test's stand-in for beat's once-a-minute `synthesis.sweep_stale_jobs`: the same sweep
(synthesis.sweeper), every SWEEP_EVERY seconds, on the web host, so a test waits seconds, not minutes, for it."""

import logging
import os
import time

import django

django.setup()

from synthesis.sweeper import synthesis_jobs_sweep  # noqa: E402

logger = logging.getLogger("multihost.sweeper")

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    every = float(os.environ.get("SWEEP_EVERY", "2"))
    while True:
        try:
            result = synthesis_jobs_sweep()
            if any(result.values()):
                logger.info("sweep: %s", result)
        except Exception:
            logger.exception("sweep failed")
        time.sleep(every)
