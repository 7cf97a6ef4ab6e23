// Synthesize page: submits to the same /v1/tts API developers use (session + CSRF), then follows the job live
// over the websocket. If the socket is down, it falls back to polling GET /v1/tts/{id}.
(function () {
  "use strict";
  const form = document.getElementById("tts-form");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const text = $("tts-text"), speed = $("tts-speed"), submit = $("tts-submit");
  const voiceSelect = $("tts-voice"), formatSelect = $("tts-format");
  const result = $("tts-result"), statusEl = $("job-status"), errorEl = $("job-error");
  const audio = $("job-audio"), download = $("job-download"), cachedEl = $("job-cached");
  const progressEl = $("job-progress"), limitEl = $("limit-message");
  const maxChars = Number(form.dataset.maxChars), planName = form.dataset.plan;
  const STORE = "odiadev.playground";
  let currentJobId = null, socket = null, pollTimer = null, overLimit = false;
  // Events can overtake the POST response, so the newest state seen of every job is kept, and a state never
  // goes backwards on screen.
  const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
  const latest = {};
  const shownInRecent = {};

  // Characters as the server counts them (synthesis.cache.text_canonical, then len() in Python): Unicode NFC,
  // every run of whitespace as one space, the ends trimmed, then code points (an emoji is one character, not two
  // UTF-16 units). The class is exactly Python's `\s` (str.isspace): JavaScript's own `\s` also takes U+FEFF
  // and misses U+001C-U+001F and U+0085.
  const PY_SPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
  const PY_EDGES = /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;
  function serverLength(value) {
    const canonical = value.normalize("NFC").replace(PY_SPACE, " ").replace(PY_EDGES, "");
    let count = 0;
    for (const _ of canonical) count++;  // iterates code points
    return count;
  }
  const fmt = (n) => n.toLocaleString("en-US");

  function updateCount() {
    const count = serverLength(text.value);
    $("char-count").textContent = fmt(count);
    overLimit = count > maxChars;
    const near = !overLimit && count >= Math.floor(maxChars * 0.9);
    limitEl.className = "limit-message" + (overLimit ? " over" : near ? " near" : "");
    text.classList.toggle("over", overLimit);
    text.setAttribute("aria-invalid", overLimit ? "true" : "false");
    if (overLimit) {
      limitEl.textContent = "Text is " + fmt(count) + " characters; the limit on the " + planName + " plan is " +
        fmt(maxChars) + ". Shorten it or split it into several requests.";
    } else if (near) {
      limitEl.textContent = fmt(maxChars - count) + " characters left before the " + planName + " plan's limit.";
    } else {
      limitEl.textContent = "";
    }
    limitEl.hidden = !limitEl.textContent;
    if (!submit.dataset.busy) submit.disabled = overLimit;
  }

  // Remembered choices: voice, format and speed, in this browser only.
  function saveChoices() {
    try {
      localStorage.setItem(STORE, JSON.stringify({ voice: voiceSelect.value, format: formatSelect.value, speed: speed.value }));
    } catch (err) { /* storage off: nothing to remember */ }
  }
  function restoreChoices() {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORE) || "null"); } catch (err) { saved = null; }
    if (!saved) return;
    const usable = (select, value) => Array.from(select.options).some((o) => o.value === value && !o.disabled);
    if (usable(voiceSelect, saved.voice)) voiceSelect.value = saved.voice;
    if (usable(formatSelect, saved.format)) formatSelect.value = saved.format;
    if (saved.speed && Number(saved.speed) >= 0.5 && Number(saved.speed) <= 2) speed.value = saved.speed;
  }

  function voiceIsCloned() {
    const option = voiceSelect.options[voiceSelect.selectedIndex];
    return Boolean(option && option.dataset.kind === "cloned");
  }
  function updateSpeed() {
    // Cloned voices speak at the speed of their sample: the server refuses any other speed.
    const cloned = voiceIsCloned();
    if (cloned) speed.value = "1";
    speed.disabled = cloned;
    $("speed-note").hidden = !cloned;
    $("speed-value").textContent = Number(speed.value).toFixed(1);
  }

  function isPlayable(format) {
    const option = Array.from(formatSelect.options).find((o) => o.value === format);
    return !option || option.dataset.playable !== "false";
  }

  function downloadUrl(job) {
    return job.audio_url + (job.audio_url.includes("?") ? "&" : "?") + "download=1";
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text) node.textContent = text;
    return node;
  }

  // A finished job joins the "Recent" list at once (it was rendered before the job existed).
  function addToRecent(job) {
    if (shownInRecent[job.id]) return;
    shownInRecent[job.id] = true;
    const list = $("recent-jobs");
    const empty = $("no-jobs");
    if (empty) empty.remove();
    const item = el("li");
    item.append(el("span", { class: "status " + job.status }, job.status), " ");
    item.append(job.text.length > 80 ? job.text.slice(0, 79) + "…" : job.text);
    if (job.status === "succeeded" && job.audio_url) {
      const cell = el("span", { class: "audio-cell" });
      if (isPlayable(job.format)) {
        cell.append(el("audio", { class: "player", controls: "", preload: "none", src: job.audio_url, "aria-label": "Audio: " + job.text.slice(0, 40) }));
      } else {
        cell.append(el("small", { class: "hint" }, job.format + ": raw audio, download only"), " ");
      }
      cell.append(el("a", { href: downloadUrl(job), download: "", class: "download" }, "Download"));
      item.append(cell);
    }
    list.prepend(item);
    while (list.children.length > 5) list.lastElementChild.remove();
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
    if (job.spoken_text) {
      $("job-spoken-text").textContent = job.spoken_text;
      $("job-spoken").hidden = false;
    }
    if (job.status === "succeeded" && job.audio_url) {
      if (download.dataset.jobId !== job.id) {
        download.dataset.jobId = job.id;
        download.href = downloadUrl(job);
        download.setAttribute("download", "");  // the server's Content-Disposition names the file
        download.textContent = "Download " + job.format;
        download.hidden = false;
        const playable = isPlayable(job.format);
        $("job-download-note").hidden = playable;
        if (playable) {
          audio.src = job.audio_url;
          audio.hidden = false;
        }
        if (job.words && job.words.length) {
          if (playable) window.odiadevWords.attach(audio, $("job-words"), job.words);
          $("job-captions-srt").href = "/v1/tts/" + job.id + "/captions.srt";
          $("job-captions-vtt").href = "/v1/tts/" + job.id + "/captions.vtt";
          $("job-captions").hidden = false;
        }
      }
    }
    if (job.status === "failed" && job.error) {
      errorEl.textContent = job.error.message + " (" + job.error.code + ")";
      errorEl.hidden = false;
    }
    if (["succeeded", "failed", "cancelled"].includes(job.status)) {
      delete submit.dataset.busy;
      submit.disabled = overLimit;
      clearInterval(pollTimer);
      addToRecent(job);
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

  function remember(job) {
    const seen = latest[job.id];
    // Same status: the one with more segments done is newer (progress of a long text).
    if (!seen || RANK[job.status] > RANK[seen.status] ||
        (RANK[job.status] === RANK[seen.status] && (job.chunks_done || 0) >= (seen.chunks_done || 0))) {
      latest[job.id] = job;
    }
    return latest[job.id];
  }

  function poll() {
    clearInterval(pollTimer);
    pollTimer = setInterval(async () => {
      if (!currentJobId) return;
      const response = await fetch("/v1/tts/" + currentJobId, { credentials: "same-origin" });
      if (response.ok) render(remember(await response.json()));
    }, 1500);
  }

  // Everything the previous job showed goes, so nothing stale (a cached badge, a player) sits beside the new one.
  function clearResult() {
    currentJobId = null;
    errorEl.hidden = true; audio.hidden = true; download.hidden = true; cachedEl.hidden = true;
    $("job-download-note").hidden = true; $("job-spoken").hidden = true;
    $("job-words").hidden = true; $("job-words").textContent = ""; $("job-captions").hidden = true;
    if (progressEl) progressEl.hidden = true;
    audio.removeAttribute("src");
    delete download.dataset.jobId;
  }

  function refuse(message) {
    result.hidden = false;
    statusEl.textContent = "rejected";
    statusEl.className = "status failed";
    errorEl.textContent = message;
    errorEl.hidden = false;
  }

  text.addEventListener("input", updateCount);
  speed.addEventListener("input", () => { $("speed-value").textContent = Number(speed.value).toFixed(1); saveChoices(); });
  voiceSelect.addEventListener("change", () => { updateSpeed(); saveChoices(); });
  formatSelect.addEventListener("change", saveChoices);
  // Ctrl+Enter (Cmd+Enter on a Mac) anywhere in the form submits it.
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (!submit.disabled) form.requestSubmit(submit);
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    updateCount();
    if (overLimit) return;  // the message under the counter says why
    clearResult();
    submit.disabled = true;
    submit.dataset.busy = "1";
    const body = {
      text: text.value,
      voice_id: voiceSelect.value,
      format: formatSelect.value,
      speed: Number(speed.value),
      normalize: $("tts-normalize").checked,
      timestamps: $("tts-timestamps").checked,
    };
    const done = () => { delete submit.dataset.busy; submit.disabled = overLimit; };
    try {
      const response = await fetch("/v1/tts", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      const data = await response.json();
      if (!response.ok) {
        refuse(data.error ? data.error.message + " (" + data.error.code + ")" : "Request failed.");
        done();
        return;
      }
      currentJobId = data.id;
      render(remember(data));
      if (!socket || socket.readyState !== WebSocket.OPEN) poll();
    } catch (err) {
      refuse("Network error: " + err);
      done();
    }
  });

  restoreChoices();
  updateSpeed();
  updateCount();
  connect();
})();
