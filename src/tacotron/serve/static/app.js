// The page of `tacotron serve`: speaks through POST /api/tts/stream, plays each sentence with the
// Web Audio API as it arrives, then puts the whole WAV in the <audio> element and shows the
// request's report and alignment picture. No build step, no libraries. With the report's word
// timings the words are shown under the player, the one being spoken highlighted (karaoke).
"use strict";

const WAV_HEADER_BYTES = 44; // the stream's RIFF/WAVE header (mono, 16-bit PCM)
const PLAYBACK_LEAD_SECONDS = 0.05; // scheduling margin before the first buffer starts

const $ = (id) => document.getElementById(id);
let voices = [];
let maxChars = 0;
let audioContext = null;
let lastSample = "";

function authHeaders() {
  const key = sessionStorage.getItem("tacotron-api-key") || "";
  return key ? { Authorization: `Bearer ${key}` } : {};
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(message) {
  $("status").textContent = message;
}

async function errorMessage(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (error) {
    detail = response.statusText;
  }
  if (response.status === 401) {
    $("api-key-label").hidden = false;
    return `This server needs an API key: enter it next to the Speak button. (${detail})`;
  }
  if (response.status === 503) {
    const wait = response.headers.get("Retry-After");
    return `The server is busy${wait ? `; try again in ${wait} s` : ""}. (${detail})`;
  }
  return `Error ${response.status}: ${detail}`;
}

function fillVocoders() {
  const voice = voices.find((v) => v.name === $("voice").value);
  const select = $("vocoder");
  select.replaceChildren(...voice.vocoders.map((name) => new Option(name, name)));
  // A multi-speaker voice: choose who speaks (its first speaker by default).
  const speakers = voice.speakers || [];
  $("speaker").replaceChildren(...speakers.map((name) => new Option(name, name)));
  $("speaker-label").hidden = speakers.length === 0;
  const text = $("text");
  if (!text.value.trim() || text.value === lastSample) {
    text.value = voice.sample_text;
    lastSample = voice.sample_text;
  }
  updateCounter();
}

function updateCounter() {
  const length = $("text").value.length;
  $("counter").textContent = maxChars ? `${length} / ${maxChars} characters` : `${length} characters`;
  $("counter").classList.toggle("over", maxChars > 0 && length > maxChars);
}

async function loadVoices() {
  const response = await fetch("/api/voices", { headers: authHeaders() });
  if (!response.ok) {
    showError(await errorMessage(response));
    return false;
  }
  const body = await response.json();
  voices = body.voices;
  maxChars = body.max_chars;
  // The predicted MOS can be asked for only where the server has DistillMOS.
  $("naturalness-label").hidden = !body.naturalness;
  $("voice").replaceChildren(
    ...voices.map((v) => new Option(`${v.name} (${v.language}, step ${v.checkpoint_step ?? "?"})`, v.name)));
  $("voice").value = body.default;
  fillVocoders();
  return true;
}

function wavBlob(pieces, sampleRate) {
  const dataBytes = pieces.reduce((sum, piece) => sum + piece.byteLength, 0);
  const header = new DataView(new ArrayBuffer(WAV_HEADER_BYTES));
  const text = (offset, value) => [...value].forEach((c, i) => header.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF");
  header.setUint32(4, 36 + dataBytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  header.setUint32(16, 16, true);
  header.setUint16(20, 1, true); // PCM
  header.setUint16(22, 1, true); // mono
  header.setUint32(24, sampleRate, true);
  header.setUint32(28, sampleRate * 2, true);
  header.setUint16(32, 2, true);
  header.setUint16(34, 16, true);
  text(36, "data");
  header.setUint32(40, dataBytes, true);
  return new Blob([header.buffer, ...pieces], { type: "audio/wav" });
}

function playNow(samples, sampleRate, state) {
  const floats = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) floats[i] = samples[i] / 32768;
  const buffer = audioContext.createBuffer(1, floats.length, sampleRate);
  buffer.copyToChannel(floats, 0);
  const source = audioContext.createBufferSource();
  source.buffer = buffer;
  source.connect(audioContext.destination);
  const start = Math.max(state.playAt, audioContext.currentTime + PLAYBACK_LEAD_SECONDS);
  source.start(start);
  state.playAt = start + buffer.duration;
}

async function speak(event) {
  event.preventDefault();
  clearError();
  const voice = $("voice").value;
  if (!voice) {
    if (!(await loadVoices())) return;
  }
  // Made inside the click, so the browser lets it play.
  audioContext = audioContext || new AudioContext();
  await audioContext.resume();
  const request = { text: $("text").value, voice: $("voice").value, vocoder: $("vocoder").value, format: "wav" };
  if ($("seed").value !== "") request.seed = Number($("seed").value);
  if ($("speed").value !== "") request.speed = Number($("speed").value);
  if (!$("speaker-label").hidden) request.speaker = $("speaker").value;
  if (!$("naturalness-label").hidden && $("naturalness").checked) request.naturalness = true;
  $("speak").disabled = true;
  const started = performance.now();
  setStatus("Speaking: waiting for the first sentence…");
  try {
    const response = await fetch("/api/tts/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify(request),
    });
    if (!response.ok) {
      showError(await errorMessage(response));
      setStatus("");
      return;
    }
    const requestId = response.headers.get("X-Request-Id");
    const sampleRate = Number(response.headers.get("X-Sample-Rate"));
    const reader = response.body.getReader();
    const pieces = [];
    const state = { playAt: 0 };
    let pending = new Uint8Array(0);
    let headerSeen = false;
    let firstAudioSeconds = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let bytes = new Uint8Array(pending.length + value.length);
      bytes.set(pending);
      bytes.set(value, pending.length);
      if (!headerSeen) {
        if (bytes.length < WAV_HEADER_BYTES) { pending = bytes; continue; }
        bytes = bytes.subarray(WAV_HEADER_BYTES);
        headerSeen = true;
      }
      const usable = bytes.length - (bytes.length % 2); // a sample may straddle two reads
      pending = bytes.slice(usable);
      if (usable === 0) continue;
      const samples = new Int16Array(bytes.slice(0, usable).buffer);
      pieces.push(samples);
      playNow(samples, sampleRate, state);
      if (firstAudioSeconds === null) {
        firstAudioSeconds = (performance.now() - started) / 1000;
        setStatus(`Playing (first audio after ${firstAudioSeconds.toFixed(2)} s); the rest is on its way…`);
      }
    }
    const blob = wavBlob(pieces, sampleRate);
    const url = URL.createObjectURL(blob);
    const player = $("player");
    player.dataset.requestId = requestId;
    player.src = url;
    $("download").href = url;
    $("download").hidden = false;
    const total = (performance.now() - started) / 1000;
    setStatus(`Done in ${total.toFixed(2)} s; first audio after ${(firstAudioSeconds ?? total).toFixed(2)} s.`);
    await showReport(requestId);
  } catch (error) {
    showError(`The answer broke off: ${error.message}. The server may have stopped the request (time limit) or gone away.`);
  } finally {
    $("speak").disabled = false;
  }
}

async function showReport(requestId) {
  const response = await fetch(`/api/requests/${requestId}`, { headers: authHeaders() });
  if (!response.ok) {
    showError(await errorMessage(response));
    return;
  }
  const report = await response.json();
  const s = report.summary;
  $("summary").textContent =
    `${report.voice}, ${report.vocoder}, seed ${report.seed}: ${report.audio_seconds.toFixed(2)} s of audio ` +
    `in ${report.synthesis_seconds.toFixed(2)} s (real-time factor ${report.real_time_factor.toFixed(3)}); ` +
    `${s.segments} sentence(s), ${s.retried} retried, ${s.failed} still failing quality checks.` +
    (report.mos === null ? "" : ` Predicted MOS ${report.mos.toFixed(2)} of 5 (DistillMOS, scored in ${report.naturalness_seconds.toFixed(2)} s).`);
  const rows = report.segments.map((segment, index) => {
    const row = document.createElement("tr");
    if (segment.failures.length) row.className = "failed";
    const cells = [index + 1, segment.text, segment.frames, segment.focus_rate.toFixed(2),
      segment.coverage.toFixed(2), segment.attempts, segment.mos === null ? "–" : segment.mos.toFixed(2),
      segment.failures.join("; ") || "none"];
    cells.forEach((value, column) => {
      const cell = document.createElement("td");
      cell.textContent = value;
      if ([0, 2, 3, 4, 5, 6].includes(column)) cell.className = "number";
      if (column === 1) cell.className = "sentence";
      row.append(cell);
    });
    return row;
  });
  $("report").tBodies[0].replaceChildren(...rows);
  showWords(report.words || []);
  // Russian: the text as it was stressed ("+" before the stressed vowel), when that differs.
  const normalized = report.segments.map((segment) => segment.normalized).join(" ");
  $("stressed").textContent = `Stressed: ${report.stressed}`;
  $("stressed").hidden = !report.stressed || report.stressed === normalized;
  const picture = await fetch(`/api/requests/${requestId}/alignment.png`, { headers: authHeaders() });
  if (picture.ok) {
    const image = $("alignment");
    // Small pictures (short sentences) are shown twice as large, pixels kept sharp.
    image.onload = () => { image.style.width = `${Math.min(2 * image.naturalWidth, image.parentElement.clientWidth)}px`; };
    image.src = URL.createObjectURL(await picture.blob());
  }
  $("result").hidden = false;
}

// Karaoke: each word a span holding its [start, end) in seconds of the <audio> element's audio
// (the report's words, which are in seconds of the streamed audio the element plays).
function showWords(words) {
  const spans = words.map((word, index) => {
    const span = document.createElement("span");
    span.textContent = word.word;
    span.dataset.index = index;
    span.dataset.start = word.start;
    span.dataset.end = word.end;
    return span;
  });
  const box = $("words");
  box.replaceChildren(...spans.flatMap((span, i) => (i ? [document.createTextNode(" "), span] : [span])));
  box.hidden = spans.length === 0;
  highlightWord();
}

function highlightWord() {
  const now = $("player").currentTime;
  for (const span of $("words").querySelectorAll("span")) {
    span.classList.toggle("spoken", Number(span.dataset.start) <= now && now < Number(span.dataset.end));
  }
}

function followPlayback() {
  highlightWord();
  if (!$("player").paused) requestAnimationFrame(followPlayback);
}

document.addEventListener("DOMContentLoaded", () => {
  for (const name of ["timeupdate", "seeked", "pause", "ended"]) $("player").addEventListener(name, highlightWord);
  $("player").addEventListener("play", followPlayback);
  $("speak-form").addEventListener("submit", speak);
  $("voice").addEventListener("change", fillVocoders);
  $("text").addEventListener("input", updateCounter);
  $("api-key").addEventListener("change", async () => {
    sessionStorage.setItem("tacotron-api-key", $("api-key").value);
    clearError();
    await loadVoices();
  });
  loadVoices();
});
