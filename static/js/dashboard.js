// Synthesize page: submits to the same /v1/tts API developers use (session + CSRF), then follows the job live
// over the websocket. If the socket is down, it falls back to polling GET /v1/tts/{id}.
(function () {
  "use strict";
  const form = document.getElementById("tts-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const text = $("tts-text"), speed = $("tts-speed"), submit = $("tts-submit");
  const result = $("tts-result"), statusEl = $("job-status"), errorEl = $("job-error");
  const audio = $("job-audio"), download = $("job-download"), cachedEl = $("job-cached");
  const progressEl = $("job-progress");
  let currentJobId = null, socket = null, pollTimer = null;
  // Events can overtake the POST response, so the newest state seen of every job is kept, and a state never
  // goes backwards on screen.
  const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
  const latest = {};

  function remember(job) {
    const seen = latest[job.id];
    // Same status: the one with more segments done is newer (progress of a long text).
    if (!seen || RANK[job.status] > RANK[seen.status] ||
        (RANK[job.status] === RANK[seen.status] && (job.chunks_done || 0) >= (seen.chunks_done || 0))) {
      latest[job.id] = job;
    }
    return latest[job.id];
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function render(job) {
    if (!job || job.id !== currentJobId) return;
    result.hidden = false;
    statusEl.textContent = job.status;
    statusEl.className = "status " + job.status;
    if (progressEl) {
      progressEl.hidden = !(job.chunks_total > 1);
      progressEl.max = job.chunks_total || 1;
      progressEl.value = job.chunks_done || 0;
      progressEl.title = (job.chunks_done || 0) + " of " + (job.chunks_total || 0) + " parts";
    }
    cachedEl.hidden = !job.cached;
    if (job.status === "succeeded" && job.audio_url) {
      if (audio.getAttribute("src") !== job.audio_url) {
        audio.src = job.audio_url;
        audio.hidden = false;
        download.href = job.audio_url;
        download.setAttribute("download", job.id + "." + job.format);
        download.hidden = false;
      }
    }
    if (job.status === "failed" && job.error) {
      errorEl.textContent = job.error.message + " (" + job.error.code + ")";
      errorEl.hidden = false;
    }
    if (["succeeded", "failed", "cancelled"].includes(job.status)) {
      submit.disabled = false;
      clearInterval(pollTimer);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/jobs/");
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "job.updated") render(remember(msg.job));
    };
    socket.onclose = () => setTimeout(connect, 2000);
  }

  function poll() {
    clearInterval(pollTimer);
    pollTimer = setInterval(async () => {
      if (!currentJobId) return;
      const response = await fetch("/v1/tts/" + currentJobId, { credentials: "same-origin" });
      if (response.ok) render(remember(await response.json()));
    }, 1500);
  }

  text.addEventListener("input", () => { $("char-count").textContent = text.value.length; });
  speed.addEventListener("input", () => { $("speed-value").textContent = Number(speed.value).toFixed(1); });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    errorEl.hidden = true; audio.hidden = true; download.hidden = true;
    audio.removeAttribute("src");
    const body = {
      text: text.value,
      voice_id: $("tts-voice").value,
      format: $("tts-format").value,
      speed: Number(speed.value),
      normalize: $("tts-normalize").checked,
    };
    try {
      const response = await fetch("/v1/tts", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) {
        result.hidden = false;
        statusEl.textContent = "rejected";
        statusEl.className = "status failed";
        errorEl.textContent = data.error ? data.error.message + " (" + data.error.code + ")" : "Request failed.";
        errorEl.hidden = false;
        submit.disabled = false;
        return;
      }
      currentJobId = data.id;
      render(remember(data));
      if (!socket || socket.readyState !== WebSocket.OPEN) poll();
    } catch (err) {
      errorEl.textContent = "Network error: " + err;
      errorEl.hidden = false;
      submit.disabled = false;
    }
  });

  connect();
})();
