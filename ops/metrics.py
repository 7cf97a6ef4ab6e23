"""The operators' live figures at /metrics, read at scrape time: broker queues, workers, their VRAM and GPU
serving (compiled or eager, batch size, occupancy, queue wait; from the heartbeats), kill-switch states and the
runbook KPIs (what `ops/alerts.yml` alerts on)."""

from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from controls.switches import switches_read
from core.heartbeat import workers_alive
from core.metrics import queue_lengths

from .health import serving_status
from .kpis import KPI_SPECS, clone_quality_window, window_figures

logger = logging.getLogger(__name__)

CLONE_QUALITY_KPIS = (
    "clone_similarity_pass_rate",
    "clone_intelligibility_pass_rate",
    "clone_wer_mean",
    "builtin_wer_mean",
)


class OpsCollector:
    """Prometheus collector for the live state; registered by the ops app in every web process."""

    def describe(self):
        # Defined so that registering the collector does not scrape Redis (and the database) at import time.
        return []

    def collect(self):
        yield from self._collect_live()
        yield from self._collect_state()

    def _collect_live(self):
        try:
            queue = GaugeMetricFamily(
                "odiadev_queue_length",
                "Messages waiting on the broker (one per queued job on an engine queue).",
                labels=["queue"],
            )
            for name, length in queue_lengths().items():
                queue.add_metric([name], length)
            yield queue
            workers = workers_alive()
            yield GaugeMetricFamily("odiadev_workers_up", "Worker processes with a fresh heartbeat.", len(workers))
            used = GaugeMetricFamily("odiadev_vram_used_bytes", "GPU memory in use.", labels=["worker", "engine"])
            peak = GaugeMetricFamily("odiadev_vram_peak_bytes", "Peak GPU memory.", labels=["worker", "engine"])
            budget = GaugeMetricFamily("odiadev_vram_budget_bytes", "VRAM budget.", labels=["worker", "engine"])
            for worker in workers:
                name = f"{worker.get('hostname')}:{worker.get('pid')}"
                for engine, vram in (worker.get("vram") or {}).items():
                    used.add_metric([name, engine], vram["used_gb"] * 1e9)
                    peak.add_metric([name, engine], vram["peak_gb"] * 1e9)
                    budget.add_metric([name, engine], vram["budget_gb"] * 1e9)
            yield from (used, peak, budget)
            yield from self._collect_serving(workers)
        except Exception:
            logger.warning("broker figures unavailable", exc_info=True)

    @staticmethod
    def _collect_serving(workers: list[dict]):
        """GPU serving per worker and engine: compiled or eager, and the batch scheduler's figures."""
        labels = ["worker", "engine"]
        compiled = GaugeMetricFamily(
            "odiadev_engine_compiled", "1: the decode step runs compiled; 0: eager.", labels=labels
        )
        failed = GaugeMetricFamily(
            "odiadev_engine_compile_failed", "1: compilation failed and the engine fell back to eager.", labels=labels
        )
        gauges = {
            "batch_size_mean": GaugeMetricFamily(
                "odiadev_batch_size_mean", "Mean requests per batch (recent batches).", labels=labels
            ),
            "occupancy": GaugeMetricFamily(
                "odiadev_batch_occupancy", "Mean batch size over the largest batch (recent batches).", labels=labels
            ),
            "max_batch": GaugeMetricFamily("odiadev_batch_max", "Largest batch the engine decodes.", labels=labels),
            "pending": GaugeMetricFamily(
                "odiadev_batch_pending", "Requests waiting in the worker's batch scheduler.", labels=labels
            ),
            "utilisation": GaugeMetricFamily(
                "odiadev_batch_utilisation", "Share of time the engine spent decoding batches.", labels=labels
            ),
        }
        wait = GaugeMetricFamily(
            "odiadev_batch_queue_wait_seconds",
            "Seconds requests waited in the batch scheduler (recent requests).",
            labels=[*labels, "quantile"],
        )
        batches = CounterMetricFamily("odiadev_batches", "Batches decoded by the worker process.", labels=labels)
        for row in serving_status(workers):
            key = [row["worker"], row["engine"]]
            if row["compile_mode"] is not None:
                compiled.add_metric(key, 1.0 if row["compile_mode"] == "compiled" else 0.0)
                failed.add_metric(key, 1.0 if row["compile_failed"] else 0.0)
            for field, gauge in gauges.items():
                if row[field] is not None:
                    gauge.add_metric(key, float(row[field]))
            for quantile, field in (("0.5", "queue_wait_p50_s"), ("0.95", "queue_wait_p95_s")):
                if row[field] is not None:
                    wait.add_metric([*key, quantile], float(row[field]))
            if row["batches"] is not None:
                batches.add_metric(key, float(row["batches"]))
        yield from (compiled, failed, *gauges.values(), wait, batches)

    def _collect_state(self):
        """Kill-switch states and the runbook KPIs from the rollups (what `ops/alerts.yml` alerts on)."""
        try:
            switches = GaugeMetricFamily("odiadev_switch_enabled", "Kill switch state (1 on).", labels=["switch"])
            for name, on in switches_read().items():
                switches.add_metric([name], 1.0 if on else 0.0)
            yield switches
            kpi = GaugeMetricFamily(
                "odiadev_kpi", "Runbook KPIs from the 5-minute rollups, per window.", labels=["kpi", "window"]
            )
            for window in ("1h", "24h"):
                values = window_figures(window)
                for spec in KPI_SPECS:
                    value = values[spec.key]
                    if value is not None and value != float("inf"):
                        kpi.add_metric([spec.key, window], float(value))
                # The parts of clone success, and the WER of cloned and built-in voices (straight from the jobs).
                quality = clone_quality_window(window)
                for key in CLONE_QUALITY_KPIS:
                    if quality[key] is not None:
                        kpi.add_metric([key, window], float(quality[key]))
            yield kpi
        except Exception:
            logger.warning("switch and KPI figures unavailable", exc_info=True)
