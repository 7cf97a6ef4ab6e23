// Word highlighting: a job's `words` (each word of the text as sent with its start and end in seconds of the
// audio) shown beside its player; the word being said is marked as the audio plays, and clicking a word plays
// from it. Used by the Synthesize page (dashboard.js) and History (on first play, it reads the job's words).
(function () {
  "use strict";

  function attach(audio, container, words) {
    container.textContent = "";
    const spans = words.map((word) => {
      const span = document.createElement("span");
      span.className = "word";
      span.textContent = word.text;
      span.dataset.start = word.start;
      span.dataset.end = word.end;
      span.addEventListener("click", () => {
        audio.currentTime = word.start;
        audio.play().catch(() => { /* playback refused: the position still moved */ });
      });
      container.append(span, " ");
      return span;
    });
    let current = -1, frame = 0;

    function indexAt(time) {
      // The word being said, or the one just said (in the short gap before the next): the highlight does not flicker.
      let found = -1;
      for (let i = 0; i < words.length && words[i].start <= time; i++) found = i;
      if (found >= 0 && time > words[found].end + 0.25) found = -1;
      return found;
    }
    function update() {
      const index = audio.ended ? -1 : indexAt(audio.currentTime);
      if (index === current) return;
      if (current >= 0) { spans[current].classList.remove("current"); spans[current].removeAttribute("aria-current"); }
      if (index >= 0) { spans[index].classList.add("current"); spans[index].setAttribute("aria-current", "true"); }
      current = index;
    }
    function loop() {
      update();
      frame = audio.paused ? 0 : requestAnimationFrame(loop);
    }
    audio.addEventListener("play", () => { if (!frame) frame = requestAnimationFrame(loop); });
    ["timeupdate", "seeked", "pause", "ended"].forEach((name) => audio.addEventListener(name, update));
    container.hidden = words.length === 0;
    update();
  }

  window.odiadevWords = { attach };

  // History: players of jobs with word timestamps fetch their words on first play.
  document.querySelectorAll("[data-words-job]").forEach((container) => {
    const audio = container.closest("td, li").querySelector("audio");
    if (!audio) return;
    audio.addEventListener("play", async function first() {
      audio.removeEventListener("play", first);
      const response = await fetch("/v1/tts/" + container.dataset.wordsJob, { credentials: "same-origin" });
      if (!response.ok) return;
      const job = await response.json();
      if (job.words) attach(audio, container, job.words);
    });
  });
})();
