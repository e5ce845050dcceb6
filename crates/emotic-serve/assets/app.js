// The emotic web page: images through POST /v1/predict, the webcam through /v1/live.
// Everything is drawn here from the JSON records; nothing is loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];
const TOP = 5; // categories shown per person
let model = null; // GET /v1/model

function authHeaders() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

function query() {
  const conf = parseFloat($("conf").value);
  return Number.isFinite(conf) ? "?conf=" + conf : "";
}

async function loadModel() {
  const status = $("model-status");
  try {
    const response = await fetch("/v1/model", { headers: authHeaders() });
    const body = await response.json();
    if (!response.ok) {
      status.textContent = "The server says: " + (body.detail || response.status) +
        (response.status === 401 ? " Enter the API key above." : "");
      status.className = "warn";
      return;
    }
    model = body;
    if (model.emotions) {
      status.textContent = `Detector ${model.detector.weights} with the emotion model (${model.emotion_categories.length} categories).`;
      status.className = "";
    } else {
      status.textContent = "No emotion model is loaded on this server: only people and objects are detected, without emotions.";
      status.className = "warn";
    }
  } catch (e) {
    status.textContent = "Cannot reach the server: " + e;
    status.className = "warn";
  }
}

function isPerson(d) {
  const classes = model ? model.detector.emotion_classes : [0];
  return classes.includes(d.class_id);
}

// The categories to show for one person: the highest scores relative to their thresholds.
function topCategories(scores) {
  const names = Object.keys(scores);
  const thresholds = (model && model.thresholds) || [];
  const order = (model && model.emotion_categories) || names;
  return names
    .map((name) => {
      const i = order.indexOf(name);
      const threshold = i >= 0 && thresholds[i] !== undefined ? thresholds[i] : 0.5;
      return { name, score: scores[name], threshold };
    })
    .sort((a, b) => (b.score - b.threshold) - (a.score - a.threshold))
    .slice(0, TOP);
}

function gauge(label, value) {
  // A half circle from 1 (left) to 10 (right).
  const t = Math.min(Math.max((value - 1) / 9, 0), 1);
  const angle = Math.PI * (1 - t);
  const x = 50 + 40 * Math.cos(angle), y = 50 - 40 * Math.sin(angle);
  const div = document.createElement("div");
  div.className = "gauge";
  div.innerHTML =
    `<svg viewBox="0 0 100 60" role="img" aria-label="${label} ${value.toFixed(1)} of 10">` +
    `<path d="M10 50 A40 40 0 0 1 90 50" fill="none" stroke="#e9ecf3" stroke-width="10"/>` +
    `<path d="M10 50 A40 40 0 0 1 ${x.toFixed(1)} ${y.toFixed(1)}" fill="none" stroke="#2156d9" stroke-width="10"/>` +
    `<text x="50" y="48" text-anchor="middle" font-size="16" fill="#1d2230">${value.toFixed(1)}</text></svg>` +
    `<div>${label}</div>`;
  return div;
}

// One card per person: top categories as bars against their thresholds, VAD as gauges.
function card(title, color, emotion) {
  const node = $("card-template").content.firstElementChild.cloneNode(true);
  node.querySelector(".card-title").innerHTML = `<span class="swatch" style="background:${color}"></span>`;
  node.querySelector(".card-title").append(title);
  const bars = node.querySelector(".bars");
  const gauges = node.querySelector(".gauges");
  if (!emotion) {
    bars.outerHTML = `<p class="none">${model && !model.emotions ? "No emotion model loaded." : "No emotion for this box."}</p>`;
    gauges.remove();
    return node;
  }
  for (const c of topCategories(emotion.categories)) {
    const li = document.createElement("li");
    const above = c.score >= c.threshold;
    li.innerHTML =
      `<span>${c.name}</span>` +
      `<span class="bar" role="img" aria-label="${c.name} ${c.score.toFixed(2)}, threshold ${c.threshold.toFixed(2)}${above ? ", above" : ""}">` +
      `<span class="fill${above ? " above" : ""}" style="width:${(c.score * 100).toFixed(1)}%"></span>` +
      `<span class="threshold" style="left:${(c.threshold * 100).toFixed(1)}%"></span></span>` +
      `<span>${c.score.toFixed(2)}</span>`;
    bars.append(li);
  }
  gauges.append(gauge("Valence", emotion.vad.valence), gauge("Arousal", emotion.vad.arousal), gauge("Dominance", emotion.vad.dominance));
  return node;
}

// Boxes and labels on a canvas that shows the image at `scale` times its size.
function drawDetections(ctx, detections, scale, labelOf) {
  const width = Math.max(2, Math.round(3 * Math.max(scale, 0.5)));
  ctx.font = `${Math.max(12, Math.round(15 * Math.max(scale, 0.7)))}px system-ui, sans-serif`;
  ctx.textBaseline = "top";
  detections.forEach((d, i) => {
    const [x1, y1, x2, y2] = d.bbox.map((v) => v * scale);
    const { text, color } = labelOf(d, i);
    ctx.lineWidth = width;
    ctx.strokeStyle = color;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    const lines = text.split("\n");
    const h = parseInt(ctx.font, 10) + 4;
    const w = Math.max(...lines.map((l) => ctx.measureText(l).width)) + 8;
    const top = y1 - h * lines.length >= 0 ? y1 - h * lines.length : y1;
    ctx.fillStyle = color;
    ctx.fillRect(x1, top, w, h * lines.length);
    ctx.fillStyle = "#fff";
    lines.forEach((l, k) => ctx.fillText(l, x1 + 4, top + 2 + k * h));
  });
}

function vadText(vad) {
  return `V${vad.valence.toFixed(1)} A${vad.arousal.toFixed(1)} D${vad.dominance.toFixed(1)}`;
}

function predictedNames(emotion) {
  return emotion.predicted.slice(0, 3).map((p) => (typeof p === "string" ? p : p.category));
}

// ---- Images ----

async function predictFile(file) {
  const response = await fetch("/v1/predict" + query(), {
    method: "POST",
    headers: { ...authHeaders(), "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || response.statusText);
  return body;
}

async function showResult(file) {
  const section = document.createElement("section");
  section.className = "result";
  section.setAttribute("aria-label", "Result for " + file.name);
  const heading = document.createElement("h3");
  heading.textContent = file.name;
  section.append(heading);
  $("results").prepend(section);
  try {
    const [record, bitmap] = await Promise.all([predictFile(file), createImageBitmap(file)]);
    const canvas = document.createElement("canvas");
    canvas.width = record.width;
    canvas.height = record.height;
    const persons = record.detections.filter(isPerson);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${file.name} with ${record.detections.length} detections, ${persons.length} persons`);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(bitmap, 0, 0);
    let n = 0;
    const number = new Map();
    drawDetections(ctx, record.detections, 1, (d, i) => {
      if (!isPerson(d)) return { text: `${d.class_name} ${d.confidence.toFixed(2)}`, color: "#555" };
      number.set(i, ++n);
      const color = COLORS[(n - 1) % COLORS.length];
      const top = d.emotion ? "\n" + predictedNames(d.emotion).join(", ") : "";
      return { text: `person ${n} ${d.confidence.toFixed(2)}${top}`, color };
    });
    section.append(canvas);
    const cards = document.createElement("div");
    cards.className = "cards";
    record.detections.forEach((d, i) => {
      if (!number.has(i)) return;
      const k = number.get(i);
      cards.append(card(`Person ${k} (${d.confidence.toFixed(2)})`, COLORS[(k - 1) % COLORS.length], d.emotion));
    });
    section.append(cards);
    heading.textContent = `${file.name}: ${persons.length} ${persons.length === 1 ? "person" : "persons"}, ${record.detections.length} detections`;
    section.dataset.persons = String(persons.length);
  } catch (e) {
    const p = document.createElement("p");
    p.className = "none";
    p.textContent = "Could not analyse this image: " + e.message;
    section.append(p);
    section.dataset.error = e.message;
  }
}

async function handleFiles(files) {
  const list = [...files].filter((f) => f.type.startsWith("image/") || f.type === "");
  $("image-status").textContent = `Analysing ${list.length} image${list.length === 1 ? "" : "s"}…`;
  for (const f of list) await showResult(f);
  $("image-status").textContent = `Done: ${list.length} image${list.length === 1 ? "" : "s"}.`;
}

function setUpImages() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => handleFiles(e.target.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); handleFiles(e.dataTransfer.files); });
}

// ---- Live ----

const live = { stream: null, ws: null, inFlight: false, sentAt: 0, replies: [], last: null, dropped: 0, overlays: 0, drawnFrame: -1, running: false };
// canvas.dataset.overlays: how many answered frames had their overlays drawn (for tests).

function liveStatus(text) { $("live-status").textContent = text; }

async function startLive() {
  const video = $("video");
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    liveStatus("This browser gives no camera here (a camera needs https or localhost).");
    return;
  }
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (e) {
    liveStatus(e.name === "NotAllowedError" ? "Camera access was refused." : "No camera: " + e.message);
    return;
  }
  video.srcObject = live.stream;
  await video.play();
  const key = $("api-key").value.trim();
  const params = new URLSearchParams(query().slice(1));
  if (key) params.set("api_key", key);
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/live?${params}`);
  ws.binaryType = "arraybuffer";
  live.ws = ws;
  live.running = true;
  ws.onopen = () => { liveStatus("Connected."); sendFrame(); };
  ws.onclose = () => { if (live.running) { liveStatus("The connection closed."); stopLive(); } };
  ws.onmessage = (event) => onReply(JSON.parse(event.data));
  $("live-toggle").textContent = "Stop camera";
  $("live-toggle").setAttribute("aria-pressed", "true");
  requestAnimationFrame(drawLive);
}

function stopLive() {
  live.running = false;
  if (live.ws) live.ws.close();
  if (live.stream) live.stream.getTracks().forEach((t) => t.stop());
  live.ws = null;
  live.stream = null;
  live.inFlight = false;
  $("live-toggle").textContent = "Start camera";
  $("live-toggle").setAttribute("aria-pressed", "false");
}

// One frame in flight at a time: the next is captured only when the previous is answered,
// so the newest picture is always the one sent.
function sendFrame() {
  const video = $("video");
  if (!live.running || live.inFlight || !live.ws || live.ws.readyState !== WebSocket.OPEN || !video.videoWidth) return;
  const grab = document.createElement("canvas");
  grab.width = video.videoWidth;
  grab.height = video.videoHeight;
  grab.getContext("2d").drawImage(video, 0, 0);
  live.inFlight = true;
  grab.toBlob((blob) => {
    if (!blob || !live.ws || live.ws.readyState !== WebSocket.OPEN) { live.inFlight = false; return; }
    live.sentAt = performance.now();
    live.ws.send(blob);
  }, "image/jpeg", 0.8);
}

function onReply(reply) {
  const now = performance.now();
  live.inFlight = false;
  live.replies.push(now);
  while (live.replies.length && now - live.replies[0] > 1000) live.replies.shift();
  live.dropped += reply.dropped || 0;
  const latency = now - live.sentAt;
  if (reply.error) {
    liveStatus("Frame not analysed: " + reply.detail);
  } else {
    live.last = reply;
  }
  $("live-stats").textContent = `fps ${live.replies.length} · latency ${latency.toFixed(0)} ms · dropped ${live.dropped}`;
  showLiveCards(reply);
  sendFrame();
}

function drawLive() {
  if (!live.running) return;
  const video = $("video");
  const canvas = $("live-canvas");
  if (video.videoWidth) {
    if (canvas.width !== video.videoWidth) { canvas.width = video.videoWidth; canvas.height = video.videoHeight; }
    const ctx = canvas.getContext("2d");
    ctx.drawImage(video, 0, 0);
    const reply = live.last;
    if (reply && reply.record) {
      const record = reply.record;
      const byBox = new Map((reply.persons || []).map((p) => [p.bbox.join(","), p]));
      const scale = canvas.width / record.width;
      drawDetections(ctx, record.detections, scale, (d, i) => {
        const id = record.track_ids ? record.track_ids[i] : null;
        if (id === null || id === undefined) return { text: `${d.class_name} ${d.confidence.toFixed(2)}`, color: "#555" };
        const person = byBox.get(d.bbox.join(","));
        const shown = person && person.emotion ? person.emotion.smoothed : null;
        const text = shown ? `#${id} ${shown.predicted.slice(0, 3).join(", ")}\n${vadText(shown.vad)}` : `#${id}`;
        return { text, color: COLORS[id % COLORS.length] };
      });
      // Count each answered frame once, however often it is redrawn.
      if (record.detections.length && reply.frame !== live.drawnFrame) {
        live.drawnFrame = reply.frame;
        live.overlays += 1;
      }
      canvas.dataset.overlays = String(live.overlays);
    }
  }
  sendFrame();
  requestAnimationFrame(drawLive);
}

function showLiveCards(reply) {
  const box = $("live-cards");
  if (!reply.persons) return;
  box.replaceChildren(...reply.persons.map((p) =>
    card(`Track #${p.track_id}`, COLORS[p.track_id % COLORS.length], p.emotion ? p.emotion.smoothed : null)));
}

function setUpLive() {
  $("live-toggle").addEventListener("click", () => (live.running ? stopLive() : startLive()));
}

setUpImages();
setUpLive();
$("api-key").addEventListener("change", loadModel);
loadModel();
