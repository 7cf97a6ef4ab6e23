"""Job figures read from the database at scrape time (exported at /metrics)."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from .models import JobStatus, SynthesisJob


class JobStatusCollector:
    def describe(self):
        return []  # no database query when the collector is registered

    def collect(self):
        jobs = GaugeMetricFamily("odiadev_jobs", "Jobs by status that are not final.", labels=["status"])
        counts = dict(
            SynthesisJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
            .values_list("status")
            .annotate(n=Count("id"))
        )
        for status in (JobStatus.QUEUED, JobStatus.RUNNING):
            jobs.add_metric([status.value], counts.get(status.value, 0))
        yield jobs
