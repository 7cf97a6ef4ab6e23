// Voices page: get a consent challenge, record consent and a sample with MediaRecorder (or upload a sample),
// send them to POST /v1/voices, then follow verification live over the websocket.
(function () {
  "use strict";
  const form = document.getElementById("clone-form");
  const $ = (id) => document.getElementById(id);
  let challengeId = null, currentVoiceId = null;
  const recordings = {};  // kind -> Blob
  // Verification can finish before the upload's own response arrives: keep the newest state of each voice and
  // never show an older one.
  const RANK = { verifying: 0, active: 1, rejected: 1 };
  const latest = {};

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function showError(message) {
    const el = $("clone-error");
    el.textContent = message;
    el.hidden = !message;
  }

  function errorText(data) {
    return data && data.error ? data.error.message + " (" + data.error.code + ")" : "Request failed.";
  }

  function pickMimeType() {
    const candidates = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
    return candidates.find((type) => window.MediaRecorder && MediaRecorder.isTypeSupported(type)) || "";
  }

  function setUpRecorder(box) {
    const kind = box.dataset.kind;
    const start = box.querySelector(".rec-start"), stop = box.querySelector(".rec-stop");
    const time = box.querySelector(".rec-time"), player = box.querySelector(".rec-audio");
    let recorder = null, chunks = [], started = 0, timer = null;

    start.addEventListener("click", async () => {
      showError("");
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err) {
        showError("Microphone not available: " + err.message);
        return;
      }
      const mimeType = pickMimeType();
      recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
      chunks = [];
      recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
      recorder.onstop = () => {
        stream.getTracks().forEach((track) => track.stop());
        recordings[kind] = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
        player.src = URL.createObjectURL(recordings[kind]);
        player.hidden = false;
        box.dataset.recorded = "true";
      };
      recorder.start(250);
      started = performance.now();
      timer = setInterval(() => { time.textContent = ((performance.now() - started) / 1000).toFixed(1) + " s"; }, 100);
      start.disabled = true;
      stop.disabled = false;
    });

    stop.addEventListener("click", () => {
      clearInterval(timer);
      if (recorder && recorder.state !== "inactive") recorder.stop();
      start.disabled = false;
      stop.disabled = true;
    });
  }

  function extensionFor(blob) {
    if (blob.type.includes("ogg")) return "ogg";
    if (blob.type.includes("mp4")) return "m4a";
    return "webm";
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => node.setAttribute(key, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    let data = null;
    try { data = await response.json(); } catch (err) { data = null; }
    return { ok: response.ok, data };
  }

  // What the speech recogniser heard in the consent recording, with the phrase words it missed marked.
  function renderCheck(box, check) {
    box.textContent = "";
    if (!check) {
      box.append(el("p", { class: "hint" }, "Still checking your recordings."));
      return;
    }
    if (check.message) box.append(el("p", { class: check.outcome === "accepted" ? "" : "error" }, check.message));
    const phrase = el("p", { "data-testid": "phrase-words" }, "One-time phrase: ");
    (check.phrase.words || []).forEach((word) => {
      const span = el("span", { class: word.ok ? "word-ok" : "word-missing" }, word.word);
      span.title = !word.ok
        ? "not heard"
        : word.listened
          ? "found when we listened for it" + (word.heard ? " (first written as “" + word.heard + "”)" : "")
          : "heard as “" + word.heard + "”";
      phrase.append(span, " ");
    });
    box.append(phrase);
    box.append(el("p", {}, "What we heard in your consent recording:"));
    box.append(el("blockquote", { class: "heard", "data-testid": "heard-transcript" }, check.transcript || "(nothing)"));
    const pct = (value) => (value === null || value === undefined ? "–" : Math.round(value * 100) + "%");
    box.append(el("p", { class: "hint" },
      "Statement heard: " + pct(check.statement.share) + " (needs " + pct(check.statement.threshold) + "). " +
      "Phrase: " + pct(check.phrase.score) + " (needs " + pct(check.phrase.threshold) + "). " +
      "Same voice as the sample: " + (check.speaker.similarity === null ? "–" : check.speaker.similarity.toFixed(2)) +
      " (needs " + check.speaker.threshold.toFixed(2) + "). Heard by " + check.asr.model_id + "."));
  }

  function consentDetails(voice, open) {
    const details = el("details", { class: "consent-check", "data-testid": "consent-check" });
    details.append(el("summary", {}, "What we heard"));
    const box = el("div");
    details.append(box);
    let loaded = false;
    async function load() {
      if (loaded) return;
      loaded = true;
      const { ok, data } = await api("/v1/voices/" + voice.id + "/consent");
      if (ok) renderCheck(box, data.check);
      else box.append(el("p", { class: "error" }, errorText(data)));
    }
    details.addEventListener("toggle", () => { if (details.open) load(); });
    if (open) details.open = true;
    return details;
  }

  // The sample's transcript (Dia reads it with the sample): shown, flagged when it disagrees with what we heard,
  // and editable by the owner.
  function transcriptDetails(voice) {
    const details = el("details", { class: "transcript", "data-testid": "transcript" });
    const source = voice.sample_transcript_source === "asr" ? " (transcribed by us)" : "";
    details.append(el("summary", {}, "Sample transcript" + source));
    if (voice.transcript_warning) {
      details.append(el("p", { class: "warning", "data-testid": "transcript-warning" }, voice.transcript_warning.message));
      details.open = true;
    }
    const area = el("textarea", { rows: "3", maxlength: "5000", "aria-label": "Sample transcript" });
    area.value = voice.sample_transcript || "";
    const save = el("button", { type: "button" }, "Save transcript");
    const note = el("span", { class: "hint", role: "status" });
    save.addEventListener("click", async () => {
      save.disabled = true;
      const { ok, data } = await api("/v1/voices/" + voice.id, {
        method: "PATCH",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ sample_transcript: area.value }),
      });
      save.disabled = false;
      note.textContent = ok ? " Saved." : " " + errorText(data);
      if (ok) renderVoice(data, true);
    });
    details.append(area, save, note);
    return details;
  }

  // The Delete form the server renders in each row (templates/voices/_delete_form.html, kept in a <template> with
  // a placeholder id), for rows added live. common.js asks its data-confirm question: it listens on the document.
  function deleteForm(voiceId) {
    const template = $("voice-delete-form");
    if (!template) return document.createTextNode("");
    const form = template.content.querySelector("form").cloneNode(true);
    form.setAttribute("action", form.getAttribute("action").replace(template.dataset.voiceId, voiceId));
    return form;
  }

  function renderVoice(incoming, force) {
    const seen = latest[incoming.id];
    const voice = force || !seen || RANK[incoming.status] >= RANK[seen.status] ? incoming : seen;
    const changed = !seen || seen.status !== voice.status || seen.version !== voice.version ||
      seen.sample_transcript !== voice.sample_transcript || seen.consent_outcome !== voice.consent_outcome;
    latest[voice.id] = voice;
    let row = document.querySelector('tr[data-voice-id="' + voice.id + '"]');
    if (!row) {
      const empty = $("no-voices");
      if (empty) empty.remove();
      row = document.createElement("tr");
      row.dataset.voiceId = voice.id;
      row.innerHTML = "<td></td><td><span data-testid=\"voice-status\"></span>" +
        "<small class=\"error voice-rejection\" data-testid=\"voice-rejection\"></small>" +
        "<div class=\"voice-more\"></div></td><td></td><td></td>";
      row.children[0].textContent = voice.name;
      // UTC as the server prints it; common.js shows it in the browser's time zone once the row is in the page.
      row.children[2].append(el("time", { datetime: voice.created_at, "data-local": "minutes" },
        voice.created_at.replace("T", " ").slice(0, 16) + " UTC"));
      row.children[3].append(deleteForm(voice.id));
      $("voice-rows").prepend(row);
    }
    const status = row.querySelector('[data-testid="voice-status"]');
    const waitingForPerson = voice.status === "verifying" && voice.consent_outcome === "review";
    status.textContent = waitingForPerson ? "in review" : voice.status;
    status.className = "status " + voice.status;
    row.querySelector(".voice-rejection").textContent = voice.rejection ? voice.rejection.message : "";
    const mine = voice.id === currentVoiceId;
    if (mine) {
      document.querySelector('[data-testid="clone-status"]').textContent = status.textContent;
      if (voice.rejection) showError(voice.rejection.message + " (" + voice.rejection.code + ")");
    }
    if (changed) {
      const more = row.querySelector(".voice-more");
      more.textContent = "";
      const decided = voice.status !== "verifying" || waitingForPerson;
      if (decided) more.append(consentDetails(voice, mine && voice.status !== "active"));
      if (voice.status !== "rejected" && voice.sample_transcript !== undefined) more.append(transcriptDetails(voice));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws/jobs/");
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "voice.updated") renderVoice(message.voice);
    };
    socket.onclose = () => setTimeout(connect, 2000);
  }

  const initial = $("voice-data");
  if (initial) JSON.parse(initial.textContent).reverse().forEach((voice) => renderVoice(voice));
  connect();
  if (!form) return;
  document.querySelectorAll(".recorder").forEach(setUpRecorder);
  // An uploaded file says something else than our script: leave its transcript to the recogniser unless typed.
  $("sample-file").addEventListener("change", () => {
    const area = $("sample-transcript");
    if (area.value.trim() === area.dataset.script.trim()) area.value = "";
  });

  $("get-statement").addEventListener("click", async () => {
    showError("");
    const response = await fetch("/v1/voices/consent-challenge", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
    });
    const data = await response.json();
    if (!response.ok) return showError(errorText(data));
    challengeId = data.id;
    $("statement").textContent = data.statement;
    $("statement").hidden = false;
    document.querySelector('.recorder[data-kind="consent"]').hidden = false;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const file = $("sample-file").files[0];
    if (!challengeId) return showError("Get your consent statement first.");
    if (!recordings.consent) return showError("Record yourself reading the consent statement.");
    if (!recordings.sample && !file) return showError("Record or upload a voice sample.");
    const body = new FormData();
    body.append("name", $("voice-name").value);
    body.append("challenge_id", challengeId);
    body.append("sample_transcript", $("sample-transcript").value);
    body.append("consent_audio", recordings.consent, "consent." + extensionFor(recordings.consent));
    if (file) body.append("sample", file, file.name);
    else body.append("sample", recordings.sample, "sample." + extensionFor(recordings.sample));
    $("clone-submit").disabled = true;
    const response = await fetch("/v1/voices", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken() },
      body,
    });
    const data = await response.json();
    $("clone-submit").disabled = false;
    if (!response.ok) return showError(errorText(data));
    currentVoiceId = data.id;
    challengeId = null;  // spent
    $("clone-status").hidden = false;
    renderVoice(data);
    poll(data.id);
  });

  // The websocket brings the verdict; a poll every few seconds covers an event missed while the socket reconnects.
  async function poll(voiceId) {
    const voice = latest[voiceId];
    if (!voice || voice.status !== "verifying") return;
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const response = await fetch("/v1/voices/" + voiceId, { credentials: "same-origin" });
    if (response.ok) renderVoice(await response.json());
    poll(voiceId);
  }
})();

// Voice library: each built-in voice's preview. The first visit asks a worker to make it (once); until it is
// ready the page asks again every couple of seconds, then shows a full player on a signed link (no API key).
(function () {
  "use strict";
  const POLL_MS = 2000, GIVE_UP_MS = 120000;

  function show(box, url) {
    const player = document.createElement("audio");
    player.className = "player";
    player.controls = true;
    player.preload = "none";
    player.src = url;
    player.setAttribute("aria-label", "Preview of " + box.dataset.voiceName);
    box.replaceChildren(player);
  }

  async function load(box, started) {
    const status = box.querySelector(".preview-status");
    try {
      const response = await fetch(box.dataset.previewUrl, { credentials: "same-origin" });
      const data = await response.json();
      if (response.ok && data.audio_url) return show(box, data.audio_url);
      if (!response.ok || data.status === "failed") {
        status.textContent = "No preview available right now.";
        return;
      }
    } catch (err) { /* the next try may work */ }
    if (performance.now() - started > GIVE_UP_MS) {
      status.textContent = "The preview is taking long: reload the page later.";
      return;
    }
    setTimeout(() => load(box, started), POLL_MS);
  }

  document.querySelectorAll(".voice-preview[data-preview-url]").forEach((box) => load(box, performance.now()));
})();
