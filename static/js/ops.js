// The ops panel: draw the 7-day charts (uPlot, served from our own static files). Its forms ask before they
// are sent through common.js (data-confirm).
(function () {
  "use strict";

  var source = document.getElementById("kpi-series");
  if (!source || typeof uPlot === "undefined") return;
  var series = JSON.parse(JSON.parse(source.textContent));

  function chart(id, title, lines) {
    var el = document.getElementById(id);
    if (!el) return;
    var data = [series.t].concat(lines.map(function (l) { return series[l.key]; }));
    var opts = {
      title: title,
      width: Math.max(320, el.clientWidth || 800),
      height: 200,
      series: [{}].concat(lines.map(function (l) {
        return { label: l.label, stroke: l.color, width: 2, spanGaps: false };
      })),
      axes: [{}, { label: lines[0].unit }],
    };
    el.dataset.points = String(series.t.length);
    new uPlot(opts, data, el);
  }

  chart("chart-latency", "Latency (s)", [
    { key: "latency_p50", label: "p50", color: "#3b5bdb", unit: "s" },
    { key: "latency_p95", label: "p95", color: "#c92a2a", unit: "s" },
  ]);
  chart("chart-rates", "Cache hit rate and error rate (%)", [
    { key: "cache_hit_rate", label: "cache hits %", color: "#2b8a3e", unit: "%" },
    { key: "error_rate", label: "errors %", color: "#c92a2a", unit: "%" },
  ]);
  chart("chart-jobs", "Jobs finished per hour", [{ key: "jobs", label: "jobs", color: "#667085", unit: "jobs" }]);
})();
