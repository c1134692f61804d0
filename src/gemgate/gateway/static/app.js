// gemgate chat: the page's behaviour. Plain ES modules, no build step.
//
// Two modes. Chat: each message is a POST to /api/v1/sessions/{id}/messages, answered as
// server-sent events (stop aborts the request; regenerate posts .../regenerate). Live:
// one WebSocket to /ws/live (?session_id= continues a stored conversation) carries text,
// image and microphone turns (16 kHz PCM); the answer streams back as text_delta frames
// and a spoken turn's reply is played back.
// /?mode=live opens the page in Live mode; &session=<id> opens that conversation.
// Document stores (stores.js) chosen for a chat are sent as store_ids; a grounded answer
// lists its sources, and its [n] markers open them (citations.js).
// When the gateway has keys, the page first shows a sign-in view: the key is traded at
// /api/v1/login for the cookie that the API and the WebSocket accept.
import { HttpError, SESSIONS, readEvents, request, requestJson, useKey } from "./api.js";
import { Recorder, playPcm, speak } from "./audio.js";
import { icon, setIcon } from "./icons.js";
import { citationsElement, citedSources, groundingOf } from "./citations.js";
import { copyWithFeedback, renderMarkdown, sourcesElement, sourcesOf } from "./markdown.js";
import { initStores, selectedStores, showStoresOf } from "./stores.js";

const MAX_IMAGE = 6 * 1024 * 1024; // Live frames go up to 8 MiB; base64 adds a third
const CHAT_IMAGE_BYTES = 4 * 1024 * 1024; // larger chat images are scaled down
// The image types Gemini reads inline; others are redrawn as JPEG for a chat message.
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif"]);
const MAX_IMAGES = 4;
const LIVE_TITLE = "Live conversation"; // what the gateway names a new Live session
const UNTITLED = "Untitled chat";

const $ = (id) => document.getElementById(id);
const log = $("log");
const input = $("input");

const state = {
  current: null, // the open session's id
  mode: "chat", // "chat" or "live"
  sessions: [], // as GET /api/v1/sessions lists them
  model: "", // the chosen model ("" lets the gateway choose)
  attachments: [], // images to send: { name, mime_type, data, url }
  busy: null, // while an answer streams: the function that stops it
  recording: null, // while the microphone records: { recorder, conn, user }
};
let live = null; // the Live connection: { ws, id, ready, answers, opened, closing }

// -- small helpers ---------------------------------------------------------------------

const nowSeconds = () => Date.now() / 1000;

/** A session title made from the first message: its first line, at most 48 characters. */
export function titleFrom(text, hasImage = false) {
  const line = (text || "").split("\n").map((l) => l.trim()).find(Boolean) || "";
  const flat = line.replace(/\s+/g, " ");
  if (!flat) return hasImage ? "Image" : UNTITLED;
  return flat.length > 48 ? flat.slice(0, 47).trimEnd() + "…" : flat;
}

function timeElement(seconds) {
  const date = new Date(seconds * 1000);
  const time = document.createElement("time");
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  const today = date.toDateString() === new Date().toDateString();
  time.textContent = today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return time;
}

function iconButton(name, label, onClick, className = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "icon-button " + className;
  button.setAttribute("aria-label", label);
  button.title = label;
  setIcon(button, name);
  button.onclick = onClick;
  return button;
}

function status(text) {
  $("live-status").textContent = text;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
}

function scrollToEnd(force = false) {
  if (force || nearBottom()) log.scrollTop = log.scrollHeight;
}

// -- the conversation view -------------------------------------------------------------

function clearLog() {
  log.innerHTML = "";
  const empty = document.createElement("div");
  empty.className = "empty";
  const heading = document.createElement("h2");
  heading.textContent = state.mode === "live" ? "Talk or type" : "How can I help?";
  const hint = document.createElement("p");
  hint.textContent = state.mode === "live"
    ? "Live mode answers over one connection; press the microphone to speak."
    : "Ask anything. Answers render markdown and code.";
  empty.append(heading, hint);
  log.append(empty);
}

function addToLog(element) {
  const empty = log.querySelector(".empty");
  if (empty) empty.remove();
  log.append(element);
  scrollToEnd(true);
  return element;
}

/** A user message: text (kept as typed, line breaks included) and image thumbnails. */
function userTurn(text, images, at, { voice = false } = {}) {
  const turn = document.createElement("article");
  turn.className = "turn user";
  const body = document.createElement("div");
  body.className = "msg user" + (voice ? " voice" : "");
  if (images.length) {
    const strip = document.createElement("div");
    strip.className = "images";
    for (const url of images) {
      const img = document.createElement("img");
      img.src = url;
      img.alt = "attached image";
      strip.append(img);
    }
    body.append(strip);
  }
  if (text) body.append(document.createTextNode(text));
  const meta = document.createElement("footer");
  meta.className = "meta";
  meta.append(timeElement(at));
  turn.append(body, meta);
  addToLog(turn);
  return { turn, body };
}

/** A model answer, empty until text arrives: { turn, body, text, sources, … }. */
function modelTurn(at) {
  const turn = document.createElement("article");
  turn.className = "turn model";
  const body = document.createElement("div");
  body.className = "msg model md";
  body.setAttribute("aria-busy", "true"); // screen readers wait for the whole answer
  const meta = document.createElement("footer");
  meta.className = "meta";
  const answer = { turn, body, meta, text: "", sources: [], grounding: null, at, timer: null };
  const copy = iconButton("copy", "Copy the answer", () => copyWithFeedback(copy, answer.text), "copy");
  copy.innerHTML = icon("copy", "idle") + icon("check", "done");
  const again = iconButton("redo", "Regenerate the answer", () => regenerate(answer).catch(fail), "regenerate");
  again.hidden = true;
  meta.append(timeElement(at), copy, again);
  turn.append(body, meta);
  addToLog(turn);
  return answer;
}

/** Adds streamed text; the markdown is re-rendered at most every 40 ms. */
function grow(answer, text) {
  answer.text += text;
  if (answer.timer) return;
  answer.timer = setTimeout(() => {
    answer.timer = null;
    if (!answer.body.dataset.done) renderMarkdown(answer.body, answer.text);
    scrollToEnd();
  }, 40);
}

/** The answer is whole (or stopped): final render, code highlighting, sources, time. */
function finishAnswer(answer, { stopped = false, at = nowSeconds() } = {}) {
  clearTimeout(answer.timer);
  answer.timer = null;
  renderMarkdown(answer.body, answer.text, true);
  if (stopped) answer.body.dataset.stopped = "true";
  answer.body.dataset.done = "true";
  answer.body.removeAttribute("aria-busy");
  const old = answer.turn.querySelector(".sources");
  if (old) old.remove();
  const cited = citedSources(answer.grounding);
  if (cited.length) {
    answer.turn.insertBefore(citationsElement(cited, answer.body, answer.text), answer.meta);
  } else if (answer.sources.length) {
    answer.turn.insertBefore(sourcesElement(answer.sources), answer.meta);
  }
  answer.meta.querySelector("time").replaceWith(timeElement(at));
  updateActions();
  scrollToEnd();
}

function note(text, before = null) {
  const div = document.createElement("div");
  div.className = "msg note";
  div.textContent = text;
  if (before) log.insertBefore(div, before);
  else addToLog(div);
  return div;
}

/** Shows an error in the conversation ("Error: …"); a 401 asks for the key again. */
function fail(error) {
  if (error instanceof HttpError && error.status === 401) {
    showSignIn();
    return;
  }
  const div = document.createElement("div");
  div.className = "msg error";
  div.setAttribute("role", "alert");
  div.textContent = "Error: " + (error instanceof Error ? error.message : error);
  addToLog(div);
}

/** Regenerate shows on the newest answer only, in chat mode, when nothing streams. */
function updateActions() {
  const answers = log.querySelectorAll(".turn.model");
  answers.forEach((turn, index) => {
    const button = turn.querySelector(".regenerate");
    const done = turn.querySelector(".msg.model[data-done]");
    button.hidden = !(index === answers.length - 1 && done && state.mode === "chat" && !state.busy);
  });
}

function imagesOf(message) {
  const urls = [];
  for (const part of message.parts || []) {
    const blob = part.inlineData || part.inline_data;
    const mime = blob && (blob.mimeType || blob.mime_type);
    if (blob && /^image\/[\w.+-]+$/.test(mime || "") && typeof blob.data === "string") {
      urls.push(`data:${mime};base64,${blob.data}`);
    }
  }
  return urls;
}

async function showHistory(id) {
  const chat = await requestJson(`${SESSIONS}/${encodeURIComponent(id)}`);
  clearLog();
  for (const m of chat.messages) {
    if (m.role === "system") continue;
    const text = (m.parts || []).map((p) => p.text || "").join("");
    const images = imagesOf(m);
    if (!text && !images.length) continue;
    const at = m.created_at || nowSeconds();
    if (m.role === "user") {
      const shown = userTurn(text, images, at, { voice: m.message_type === "audio" });
      if (m.message_type === "audio") shown.body.title = "spoken (transcribed)";
    } else {
      const answer = modelTurn(at);
      answer.text = text;
      answer.sources = sourcesOf(m.metadata, m);
      answer.grounding = groundingOf(m.metadata, m);
      finishAnswer(answer, { at, stopped: Boolean(m.metadata && m.metadata.interrupted) });
    }
  }
  scrollToEnd(true);
}

// -- sessions --------------------------------------------------------------------------

async function listSessions() {
  const { sessions } = await requestJson(SESSIONS);
  state.sessions = sessions;
  renderSessions();
}

function sessionTitle(session) {
  return (session && session.title) || UNTITLED;
}

function renderSessions() {
  const box = $("sessions");
  box.innerHTML = "";
  if (!state.sessions.length) {
    const empty = document.createElement("li");
    empty.className = "sessions-empty";
    empty.textContent = "No chats yet";
    box.append(empty);
  }
  for (const s of state.sessions) box.append(sessionItem(s));
  const open = state.sessions.find((s) => s.id === state.current);
  $("chat-title").textContent = open ? sessionTitle(open) : state.current ? "" : "New chat";
  document.title = open ? `${sessionTitle(open)} · gemgate chat` : "gemgate chat";
}

function sessionItem(session) {
  const item = document.createElement("li");
  item.className = "session-item";
  item.dataset.id = session.id;
  const title = sessionTitle(session);
  const open = document.createElement("button");
  open.type = "button";
  open.className = "session" + (session.id === state.current ? " active" : "");
  if (session.id === state.current) open.setAttribute("aria-current", "page");
  open.textContent = title;
  open.title = title;
  open.onclick = () => {
    closeDrawer();
    openSession(session.id).catch(fail);
  };
  const rename = iconButton("edit", `Rename “${title}”`, () => startRename(item, session), "rename");
  const remove = iconButton("trash", `Delete “${title}”`, () => confirmDelete(remove, session), "delete");
  item.append(open, rename, remove);
  return item;
}

/** Swaps the title for a text field: Enter (or leaving it) saves, Escape cancels. */
function startRename(item, session) {
  const field = document.createElement("input");
  field.className = "rename-input";
  field.value = sessionTitle(session);
  field.setAttribute("aria-label", "New title");
  item.querySelector(".session").replaceWith(field);
  let settled = false;
  const settle = (save) => {
    if (settled) return;
    settled = true;
    const title = field.value.trim();
    if (save && title && title !== session.title) {
      renameSession(session.id, title, { focus: true }).catch(fail);
    }
    else renderSessions();
  };
  field.onkeydown = (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      settle(true);
    } else if (event.key === "Escape") {
      event.preventDefault();
      settle(false);
    }
  };
  field.onblur = () => settle(true);
  field.focus();
  field.select();
}

async function renameSession(id, title, { focus = false } = {}) {
  await request(`${SESSIONS}/${encodeURIComponent(id)}`, { method: "PATCH", json: { title } });
  await listSessions();
  const renamed = document.querySelector(`#sessions [data-id="${CSS.escape(id)}"] .session`);
  if (focus && renamed) renamed.focus();
}

/** Delete takes two presses: the first arms the button for four seconds. */
function confirmDelete(button, session) {
  if (!button.dataset.confirm) {
    button.dataset.confirm = "true";
    button.setAttribute("aria-label", `Press again to delete “${sessionTitle(session)}”`);
    setTimeout(() => {
      delete button.dataset.confirm;
      button.setAttribute("aria-label", `Delete “${sessionTitle(session)}”`);
    }, 4000);
    return;
  }
  deleteSession(session.id).catch(fail);
}

async function deleteSession(id) {
  await request(`${SESSIONS}/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (id === state.current) {
    if (live) closeLive();
    state.current = null;
    clearLog();
    if (state.mode === "live") status("Live: your first message starts a conversation");
  }
  await listSessions();
}

async function openSession(id) {
  if (state.busy) state.busy();
  state.current = id;
  if (state.mode === "live") {
    clearLog();
    connectLive(id); // the history is shown once the gateway has taken the session
  } else {
    await showHistory(id);
  }
  await listSessions();
  showStoresOf(state.sessions.find((s) => s.id === id));
  input.focus();
}

async function createSession(title) {
  const json = { title };
  const stores = selectedStores();
  if (stores.length) json.store_ids = stores;
  const chat = await requestJson(SESSIONS, { method: "POST", json });
  state.current = chat.id;
  return chat;
}

/** Saves the stores a chat searches on its session, so that a reload shows them. */
async function keepStores(id, ids) {
  const session = state.sessions.find((s) => s.id === id);
  const saved = (session && session.metadata && session.metadata.store_ids) || [];
  if (!session || (saved.length === ids.length && saved.every((x, i) => x === ids[i]))) return;
  try {
    const url = `${SESSIONS}/${encodeURIComponent(id)}`;
    const updated = await requestJson(url, { method: "PATCH", json: { store_ids: ids } });
    session.metadata = updated.metadata;
  } catch (error) {
    // the message carries its stores anyway; only a reload would show the old ones
  }
}

/** Renames a session still called what the gateway named it after its first turn. */
async function titleAfterFirstTurn(id, text) {
  const session = state.sessions.find((s) => s.id === id);
  if (!session || session.title !== LIVE_TITLE || session.message_count > 2) return;
  try {
    await renameSession(id, titleFrom(text, !text));
  } catch (error) {
    // a gateway without renames keeps its own title
  }
}

// -- chat mode: REST + server-sent events ----------------------------------------------

async function sendChat(text, images) {
  if (!state.current) {
    try {
      await createSession(titleFrom(text, images.length > 0));
    } catch (error) {
      fail(new Error("could not start a chat: " + error.message));
      restoreDraft(text, images);
      return;
    }
  }
  const user = userTurn(text, images.map((i) => i.url), nowSeconds());
  const body = { content: text, stream: true };
  if (state.model) body.model = state.model;
  if (images.length) body.images = images.map(({ mime_type, data }) => ({ mime_type, data }));
  body.store_ids = selectedStores(); // [] too: a store unchecked in this chat is not searched
  await keepStores(state.current, body.store_ids);
  const answer = modelTurn(nowSeconds());
  answer.question = body; // a stopped turn is not stored: regenerate sends it again
  const unsent = () => {
    // The gateway stored nothing of a failed turn: the message goes back to the composer.
    answer.turn.remove();
    user.turn.classList.add("failed");
    user.turn.title = "Not sent: the message is back in the composer";
    restoreDraft(text, images);
  };
  await streamAnswer(`${SESSIONS}/${encodeURIComponent(state.current)}/messages`, body, answer, unsent);
  await listSessions();
}

/** Posts a turn and streams the answer into ``answer``; ``undo`` runs if it fails. */
async function streamAnswer(url, body, answer, undo = () => answer.turn.remove()) {
  const controller = new AbortController();
  setBusy(() => controller.abort());
  try {
    const response = await request(url, { method: "POST", json: body, signal: controller.signal });
    await readEvents(response, (event) => onChatEvent(answer, event));
    finishAnswer(answer);
    answer.unstored = false;
  } catch (error) {
    if (controller.signal.aborted) {
      finishAnswer(answer, { stopped: true });
      answer.unstored = Boolean(answer.question); // the gateway keeps whole turns only
    } else {
      undo();
      fail(error);
    }
  } finally {
    setBusy(null);
  }
}

function onChatEvent(answer, event) {
  if (event.type === "text_delta") {
    grow(answer, event.text);
  } else if (event.type === "final_answer") {
    if (!answer.text && event.text) answer.text = event.text;
    answer.sources = sourcesOf(event);
    answer.grounding = groundingOf(event);
  } else if (event.type === "function_call") {
    note(`Using the tool ${event.name}…`, answer.turn);
  } else if (event.type === "max_iterations") {
    note("The model kept calling tools and was stopped.", answer.turn);
  } else if (event.type === "error") {
    throw new Error(event.message);
  }
}

/** Asks for the newest answer again; on failure the old one comes back.
 *
 * A stopped turn was not stored by the gateway, so its question is sent again instead.
 */
async function regenerate(answer) {
  if (state.busy || !state.current) return;
  const id = encodeURIComponent(state.current);
  const before = { text: answer.text, sources: answer.sources, grounding: answer.grounding };
  answer.text = "";
  answer.sources = [];
  answer.grounding = null;
  answer.body.innerHTML = "";
  answer.body.setAttribute("aria-busy", "true");
  delete answer.body.dataset.done;
  delete answer.body.dataset.stopped;
  const body = answer.unstored ? { ...answer.question } : { stream: true };
  body.store_ids = selectedStores(); // grounded on the stores the chat searches now
  if (state.model) body.model = state.model;
  const restore = () => {
    Object.assign(answer, before);
    finishAnswer(answer, { at: answer.at, stopped: answer.unstored });
  };
  const url = `${SESSIONS}/${id}/${answer.unstored ? "messages" : "regenerate"}`;
  await streamAnswer(url, body, answer, restore);
}

/** ``stop`` while an answer streams (the stop button shows), ``null`` when idle. */
function setBusy(stop) {
  state.busy = stop;
  $("stop").hidden = !stop;
  $("send").hidden = Boolean(stop);
  updateActions();
}

function stopAnswer() {
  if (state.busy) state.busy();
}

// -- live mode: one WebSocket per open conversation ------------------------------------

function connectLive(id) {
  closeLive();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = id ? "?session_id=" + encodeURIComponent(id) : "";
  const conn = { id, answers: [], opened: false, closing: false, turns: 0 };
  conn.ws = new WebSocket(`${scheme}//${location.host}/ws/live${query}`);
  conn.ready = new Promise((resolve, reject) => {
    conn.resolve = resolve;
    conn.reject = reject;
  });
  conn.ready.catch(() => {}); // whoever waits is told; the close handler shows why
  conn.ws.onmessage = (event) => onFrame(conn, JSON.parse(event.data)).catch(fail);
  conn.ws.onclose = (event) => onClose(conn, event);
  live = conn;
  status("Live: connecting…");
  return conn;
}

function closeLive() {
  if (!live) return;
  live.closing = true;
  live.ws.close(1000);
  live = null;
  liveBusy();
}

async function onFrame(conn, frame) {
  if (conn.closing) return;
  const answer = conn.answers[0];
  if (frame.type === "session") {
    state.current = frame.id;
    try {
      if (conn.id) await showHistory(frame.id);
    } finally {
      conn.opened = true;
      status("Live: connected");
      conn.resolve();
    }
    await listSessions();
  } else if (frame.type === "text_delta") {
    if (answer) grow(answer, frame.text);
  } else if (frame.type === "audio" && typeof frame.data === "string") {
    const rate = /rate=(\d+)/.exec(frame.mime_type || "");
    playPcm(frame.data, rate ? Number(rate[1]) : 24000);
    if (answer) answer.played = true;
  } else if (frame.type === "turn_complete") {
    await completeTurn(conn, frame);
  } else if (frame.type === "error") {
    conn.answers.shift();
    if (answer) answer.turn.remove();
    liveBusy();
    fail(frame.message);
  } else if (frame.type === "transcription") {
    heard(answer, frame);
  } else if (frame.type === "tool_calls") {
    note("Tool calls: " + frame.calls.map((c) => c.name).join(", "), answer && answer.turn);
  }
}

async function completeTurn(conn, frame) {
  const answer = conn.answers.shift();
  liveBusy();
  if (!answer) return;
  if (!answer.text) answer.text = frame.text || answer.said || "";
  answer.turn.title = `answered in ${frame.processing_time} s`;
  finishAnswer(answer, { stopped: Boolean(frame.interrupted) });
  if (answer.spoken && !answer.played) speak(answer.text);
  conn.turns += 1;
  await listSessions();
  if (!conn.id && conn.turns === 1) await titleAfterFirstTurn(state.current, answer.prompt);
}

/** A transcription: what the user said fills their voice message; the reply's is kept. */
function heard(answer, frame) {
  if (!answer) return;
  if (frame.source === "input" && answer.voice) {
    answer.prompt = ((answer.prompt || "") + " " + frame.text).trim();
    answer.voice.body.textContent = answer.prompt;
  } else if (frame.source !== "input") {
    answer.said = ((answer.said || "") + frame.text);
  }
}

function onClose(conn, event) {
  if (live === conn) live = null;
  conn.reject(new Error("the Live connection closed"));
  for (const answer of conn.answers.splice(0)) answer.turn.remove();
  liveBusy();
  if (state.recording && state.recording.conn === conn) stopMic().catch(fail);
  if (conn.closing) return;
  status("Live: disconnected (the next message reconnects)");
  if (!conn.opened && event.code === 1008 && state.current === conn.id) state.current = null; // refused
  const reason = event.reason ? ": " + event.reason : "";
  fail(`the Live connection closed (${event.code})${reason}`);
}

/** The stop button shows while Live answers are awaited. */
function liveBusy() {
  if (state.mode !== "live") return;
  const waiting = live && live.answers.length > 0;
  setBusy(waiting ? stopLive : null);
}

/** Stops the Live answers awaited: the connection closes (the next turn reconnects). */
function stopLive() {
  const conn = live;
  if (!conn) return;
  for (const answer of conn.answers.splice(0)) finishAnswer(answer, { stopped: true });
  closeLive();
  status("Live: stopped (the next message reconnects)");
}

/** The open connection, once the gateway took it; null if it closed (it said why). */
async function liveConnection() {
  const conn = live || connectLive(state.current);
  try {
    await conn.ready;
  } catch (error) {
    return null;
  }
  return conn.ws.readyState === WebSocket.OPEN ? conn : null;
}

async function sendLive(text, image) {
  const conn = await liveConnection();
  if (!conn) {
    restoreDraft(text, image ? [image] : []);
    return;
  }
  userTurn(text, image ? [image.url] : [], nowSeconds());
  const answer = modelTurn(nowSeconds());
  answer.prompt = text;
  conn.answers.push(answer);
  liveBusy();
  const frame = image
    ? { type: "image", data: image.data, mime_type: image.mime_type, prompt: text }
    : { type: "text", content: text };
  conn.ws.send(JSON.stringify(frame));
}

// -- live mode: the microphone -----------------------------------------------------------

async function toggleMic() {
  if (state.recording) return stopMic();
  const conn = await liveConnection();
  if (!conn) return;
  const recorder = new Recorder((data) => {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify({ type: "audio", data }));
  });
  try {
    await recorder.start();
  } catch (error) {
    await recorder.stop().catch(() => {});
    fail("the microphone is not available: " + (error.message || error.name));
    return;
  }
  const user = userTurn("", [], nowSeconds(), { voice: true });
  user.body.textContent = "Listening…";
  state.recording = { recorder, conn, user };
  micState(true);
  status("Live: listening… (press the microphone again to send)");
}

async function stopMic() {
  const { recorder, conn, user } = state.recording;
  state.recording = null;
  micState(false);
  const seconds = await recorder.stop();
  if (!seconds || conn.ws.readyState !== WebSocket.OPEN) {
    user.turn.remove();
    return;
  }
  user.body.textContent = "Voice message";
  conn.ws.send(JSON.stringify({ type: "audio_end" }));
  const answer = modelTurn(nowSeconds());
  answer.spoken = true;
  answer.voice = user;
  conn.answers.push(answer);
  liveBusy();
  status("Live: connected");
}

function micState(recording) {
  const mic = $("mic");
  mic.setAttribute("aria-pressed", String(recording));
  mic.setAttribute("aria-label", recording ? "Stop recording and send" : "Talk: start recording");
  mic.title = mic.getAttribute("aria-label");
}

// -- attachments -----------------------------------------------------------------------

function readAsDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** A chat image Gemini reads: large ones and other types are redrawn as JPEG. */
async function shrink(file) {
  const readable = IMAGE_TYPES.has(file.type) && file.size <= CHAT_IMAGE_BYTES;
  if (state.mode === "live" || readable) return readAsDataUrl(file);
  const bitmap = await createImageBitmap(file);
  let scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
  let url = "";
  for (let attempt = 0; attempt < 4; attempt++, scale *= 0.7) {
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    url = canvas.toDataURL("image/jpeg", 0.85);
    if (url.length * 0.75 <= CHAT_IMAGE_BYTES) break;
  }
  return url;
}

async function addFiles(files) {
  for (const file of files) {
    if (!file.type.startsWith("image/")) {
      fail(`${file.name || "the file"} is not an image`);
      continue;
    }
    if (file.size > MAX_IMAGE) {
      fail(`${file.name} is larger than 6 MB`);
      continue;
    }
    const url = await shrink(file);
    const comma = url.indexOf(",");
    const mime = url.slice(5, url.indexOf(";"));
    const image = { name: file.name || "pasted image", mime_type: mime, data: url.slice(comma + 1), url };
    const limit = state.mode === "live" ? 1 : MAX_IMAGES; // a Live image frame holds one
    state.attachments = [...state.attachments, image].slice(-limit);
  }
  renderAttachments();
}

function renderAttachments() {
  const box = $("attachments");
  box.innerHTML = "";
  for (const image of state.attachments) {
    const figure = document.createElement("figure");
    figure.className = "attachment";
    const img = document.createElement("img");
    img.src = image.url;
    img.alt = image.name;
    img.title = image.name;
    const remove = iconButton("close", `Remove ${image.name}`, () => {
      state.attachments = state.attachments.filter((i) => i !== image);
      renderAttachments();
      input.focus();
    });
    figure.append(img, remove);
    box.append(figure);
  }
}

function clearAttachments() {
  state.attachments = [];
  $("image").value = "";
  renderAttachments();
}

/** Puts an unsent message back in the composer (unless the user typed anew). */
function restoreDraft(text, images) {
  if (!input.value) input.value = text;
  if (!state.attachments.length) state.attachments = images;
  renderAttachments();
  autoGrow();
}

// -- the composer ----------------------------------------------------------------------

function autoGrow() {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 220) + "px";
}

function submit() {
  if (state.busy && state.mode === "chat") return; // one answer at a time
  const text = input.value.trim();
  const images = state.attachments;
  if (!text && !images.length) return;
  input.value = "";
  autoGrow();
  clearAttachments();
  (state.mode === "live" ? sendLive(text, images[0]) : sendChat(text, images)).catch(fail);
}

input.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  } else if (event.key === "Escape" && state.busy) {
    stopAnswer();
  }
});
input.addEventListener("input", autoGrow);
input.addEventListener("paste", (event) => {
  const files = [...(event.clipboardData ? event.clipboardData.files : [])];
  if (files.length) {
    event.preventDefault();
    addFiles(files).catch(fail);
  }
});
$("form").addEventListener("dragover", (event) => event.preventDefault());
$("form").addEventListener("drop", (event) => {
  event.preventDefault();
  addFiles([...event.dataTransfer.files]).catch(fail);
});
$("form").onsubmit = (event) => {
  event.preventDefault();
  submit();
};
$("image").onchange = () => addFiles([...$("image").files]).catch(fail).finally(() => ($("image").value = ""));
$("attach").onkeydown = (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    $("image").click();
  }
};
$("stop").onclick = stopAnswer;
$("mic").onclick = () => toggleMic().catch(fail);

// -- mode, model, theme, drawer --------------------------------------------------------

function setMode(next) {
  if (next === state.mode) return;
  if (state.busy) state.busy();
  if (state.recording) stopMic().catch(fail);
  state.mode = next;
  document.body.dataset.mode = next; // Live turns search no stores: their chips hide
  $("mode-chat").setAttribute("aria-selected", String(next === "chat"));
  $("mode-live").setAttribute("aria-selected", String(next === "live"));
  $("mic").hidden = next !== "live";
  $("model").hidden = next === "live"; // Live mode talks to the gateway's Live model
  clearAttachments();
  if (next === "chat") {
    closeLive();
    status("");
    if (state.current) showHistory(state.current).catch(fail);
  } else if (state.current) {
    clearLog();
    connectLive(state.current);
  } else {
    status("Live: your first message starts a conversation");
  }
  if (!state.current) clearLog();
  updateActions();
}

function newChat() {
  if (state.busy) state.busy();
  closeLive();
  state.current = null;
  clearLog();
  renderSessions();
  closeDrawer();
  if (state.mode === "live") connectLive(null); // the gateway starts a Live conversation
  input.focus();
}

/** The chat models of GET /v1/models (embedding, image and Live-only ones left out). */
async function loadModels() {
  const { data } = await requestJson("/v1/models");
  const skip = /embed|imagen|veo|tts|live|native-audio|aqa/i;
  const ids = data.map((m) => m.id).filter((id) => !skip.test(id)).sort();
  const select = $("model");
  select.length = 1;
  for (const id of ids) select.add(new Option(id, id));
  const saved = storage("gemgate.model");
  if (saved && ids.includes(saved)) select.value = saved;
  state.model = select.value;
}

$("model").onchange = () => {
  state.model = $("model").value;
  storage("gemgate.model", state.model);
};

function storage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    localStorage.setItem(key, value);
  } catch (error) {
    // storage may be off: the choice lasts for this page only
  }
  return null;
}

function showTheme() {
  const dark = document.documentElement.dataset.theme === "dark";
  setIcon($("theme"), dark ? "sun" : "moon");
  $("theme").setAttribute("aria-label", dark ? "Switch to the light theme" : "Switch to the dark theme");
  $("theme").title = $("theme").getAttribute("aria-label");
}

$("theme").onclick = () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  document.documentElement.dataset.theme = next;
  storage("gemgate.theme", next);
  showTheme();
};
// Without a saved choice, the page follows the system's scheme as it changes.
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", (event) => {
  if (storage("gemgate.theme")) return;
  document.documentElement.dataset.theme = event.matches ? "dark" : "light";
  showTheme();
});

function openDrawer() {
  document.body.classList.add("drawer-open");
  $("menu").setAttribute("aria-expanded", "true");
  const first = document.querySelector("#sidebar .session.active, #sidebar #new");
  if (first) first.focus();
}

function closeDrawer() {
  if (!document.body.classList.contains("drawer-open")) return;
  document.body.classList.remove("drawer-open");
  $("menu").setAttribute("aria-expanded", "false");
}

$("menu").onclick = () => (document.body.classList.contains("drawer-open") ? closeDrawer() : openDrawer());
$("close-drawer").onclick = () => {
  closeDrawer();
  $("menu").focus();
};
$("scrim").onclick = closeDrawer;
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.classList.contains("drawer-open")) {
    closeDrawer();
    $("menu").focus();
  }
});
$("mode-chat").onclick = () => setMode("chat");
$("mode-live").onclick = () => setMode("live");
$("new").onclick = newChat;

// -- sign-in and start -----------------------------------------------------------------

function showSignIn() {
  closeLive();
  $("app").hidden = true;
  $("signin").hidden = false;
  $("key").focus();
}

$("login").onsubmit = async (event) => {
  event.preventDefault();
  const key = $("key").value.trim();
  const error = $("login-error");
  error.textContent = "";
  if (!key) return;
  try {
    const response = await fetch("/api/v1/login", { method: "POST", headers: { authorization: "Bearer " + key } });
    if (response.status === 401 || response.status === 403) throw new Error("The gateway refused this key.");
    if (!response.ok) throw new Error(response.statusText || "HTTP " + response.status);
  } catch (failure) {
    error.textContent = failure.message;
    $("key").select();
    return;
  }
  useKey(key);
  $("key").value = "";
  $("signin").hidden = true;
  await boot().catch(fail);
};

/** Fills the page once the API answers: sessions, models, the session in the URL. */
async function boot() {
  await listSessions();
  $("app").hidden = false;
  const params = new URLSearchParams(location.search);
  if (params.get("mode") === "live") setMode("live");
  loadModels().catch(() => {}); // without the list, the gateway's default model answers
  initStores(fail);
  const session = params.get("session");
  if (session && !state.current) await openSession(session);
  input.focus();
  document.body.dataset.ready = "true"; // for scripts and tests: the page is usable
}

async function start() {
  setIcon($("new"), "plus");
  $("new").append(" New chat");
  setIcon($("menu"), "menu");
  setIcon($("close-drawer"), "close");
  setIcon($("attach"), "clip");
  setIcon($("mic"), "mic");
  setIcon($("stop"), "stop");
  setIcon($("send"), "send");
  showTheme();
  clearLog();
  try {
    await boot();
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) {
      showSignIn();
      return;
    }
    $("app").hidden = false;
    fail(error);
  }
}

start();
