// Pronunciation page: "Hear it" synthesizes through the same /v1/tts API the Synthesize page uses (session +
// CSRF), follows the job by polling GET /v1/tts/{id}, then plays the audio and shows what was actually spoken.
// A saved entry is previewed by saying its word, so the dictionary applies exactly as in any job; the form's
// button says the replacement being typed, before it is saved.
(function () {
  "use strict";

  const player = document.getElementById("preview-audio");
  const statusEl = document.getElementById("preview-status");
  const spokenEl = document.getElementById("preview-spoken");
  if (!player || !statusEl) return;
  const POLL_MS = 700, GIVE_UP_MS = 90000;
  let running = null;

  function csrfToken() {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function say(message, state) {
    statusEl.textContent = message;
    statusEl.dataset.state = state;
  }

  function failed(data, fallback) {
    const error = data && data.error;
    say(error ? error.message + " (" + error.code + ")" : fallback, "failed");
  }

  async function follow(job, started) {
    while (!["succeeded", "failed", "cancelled"].includes(job.status)) {
      if (Date.now() - started > GIVE_UP_MS) return say("Still waiting for a worker; try again shortly.", "failed");
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      const response = await fetch("/v1/tts/" + job.id, { credentials: "same-origin" });
      if (!response.ok) return failed(await response.json().catch(() => null), "Could not follow the preview.");
      job = await response.json();
    }
    if (job.status !== "succeeded" || !job.audio_url) return failed(job, "The preview " + job.status + ".");
    player.src = job.audio_url;
    player.hidden = false;
    if (spokenEl) {
      spokenEl.textContent = "Spoken: “" + job.spoken_text + "”";
      spokenEl.hidden = false;
    }
    say("Playing the preview.", "succeeded");
    player.play().catch(() => say("Preview ready: press play.", "succeeded"));
  }

  async function preview(button, text) {
    text = (text || "").trim();
    if (!text) return say("Type what to say first.", "failed");
    if (running) running.disabled = false;
    running = button;
    button.disabled = true;
    player.pause();
    if (spokenEl) spokenEl.hidden = true;
    say("Synthesizing “" + text + "”…", "running");
    try {
      const response = await fetch("/v1/tts", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ text: text, format: "mp3" }),
      });
      const data = await response.json().catch(() => null);
      if (!response.ok) return failed(data, "The preview was refused.");
      await follow(data, Date.now());
    } catch (err) {
      say("Network error: " + err, "failed");
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-preview]");
    if (!button) return;
    event.preventDefault();
    const source = button.dataset.previewSource;
    const text = source ? (document.getElementById(source) || {}).value : button.dataset.preview;
    preview(button, text);
  });
})();
