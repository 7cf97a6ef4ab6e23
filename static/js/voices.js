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

  function renderVoice(incoming) {
    const seen = latest[incoming.id];
    const voice = !seen || RANK[incoming.status] >= RANK[seen.status] ? incoming : seen;
    latest[voice.id] = voice;
    let row = document.querySelector('tr[data-voice-id="' + voice.id + '"]');
    if (!row) {
      const empty = $("no-voices");
      if (empty) empty.remove();
      row = document.createElement("tr");
      row.dataset.voiceId = voice.id;
      row.innerHTML = "<td></td><td><span data-testid=\"voice-status\"></span></td><td></td><td></td>";
      row.children[0].textContent = voice.name;
      row.children[2].textContent = voice.created_at.replace("T", " ").slice(0, 16);
      $("voice-rows").prepend(row);
    }
    const status = row.querySelector('[data-testid="voice-status"]');
    status.textContent = voice.status;
    status.className = "status " + voice.status;
    if (voice.id === currentVoiceId) {
      document.querySelector('[data-testid="clone-status"]').textContent = voice.status;
      if (voice.rejection) showError(voice.rejection.message + " (" + voice.rejection.code + ")");
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

  connect();
  if (!form) return;
  document.querySelectorAll(".recorder").forEach(setUpRecorder);

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
