// Retrieval stores in the sidebar: list, create and delete stores, upload documents into
// one (file picker, or files dropped onto the panel) and delete them, and choose which
// stores the current chat searches (sent as ``store_ids``; shown as chips in the composer).
// The panel loads the stores when it is first opened, or when a chat that uses some is.
// Store and document names and the reasons of failed uploads are shown as text only.
import { HttpError, authHeaders, requestJson, request } from "./api.js";
import { setIcon } from "./icons.js";

const STORES = "/api/v1/stores";
const $ = (id) => document.getElementById(id);

const stores = {
  list: null, // as GET /api/v1/stores lists them (null until loaded)
  selected: [], // the ids the current chat searches
  open: new Set(), // the stores whose documents show
  documents: new Map(), // store id -> its documents, once listed
  reports: new Map(), // store id -> { text, lines, busy } of its newest upload
  fail: () => {},
};

const storeUrl = (id) => `${STORES}/${encodeURIComponent(id)}`;

/** The ids of the stores the current chat searches. */
export function selectedStores() {
  return [...stores.selected];
}

/** Sets up the panel; ``fail`` shows an error in the conversation. */
export function initStores(fail) {
  stores.fail = fail;
  const panel = $("stores-panel");
  panel.addEventListener("toggle", () => {
    if (panel.open && stores.list === null) loadStores().catch(fail);
  });
  $("store-create").onsubmit = (event) => {
    event.preventDefault();
    createStore().catch(showPanelError);
  };
  panel.addEventListener("dragover", (event) => {
    if (!event.dataTransfer || ![...event.dataTransfer.types].includes("Files")) return;
    event.preventDefault();
    const target = dropTarget(event.target);
    for (const item of panel.querySelectorAll(".store")) {
      item.classList.toggle("drop", item.dataset.id === target);
    }
  });
  panel.addEventListener("dragleave", (event) => {
    if (!panel.contains(event.relatedTarget)) clearDrop();
  });
  panel.addEventListener("drop", (event) => {
    event.preventDefault();
    clearDrop();
    const target = dropTarget(event.target);
    const files = [...event.dataTransfer.files];
    if (!files.length) return;
    if (!target) {
      showPanelError(new Error("Drop the files onto the store they belong to."));
      return;
    }
    upload(target, files).catch(showPanelError);
  });
  renderChips();
}

/** Shows the stores a chat searches (its create-time ``metadata.store_ids``). */
export function showStoresOf(session) {
  const ids = session && session.metadata && session.metadata.store_ids;
  stores.selected = Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
  renderChips();
  renderStores();
  if (stores.selected.length && stores.list === null) loadStores().catch(stores.fail);
}

function clearDrop() {
  for (const item of $("stores-panel").querySelectorAll(".store.drop")) item.classList.remove("drop");
}

/** The store files dropped at ``element`` go to: its store, else the one open, else the only one. */
function dropTarget(element) {
  const item = element instanceof Element ? element.closest(".store") : null;
  if (item) return item.dataset.id;
  if (stores.open.size === 1) return [...stores.open][0];
  if (stores.list && stores.list.length === 1) return stores.list[0].id;
  return null;
}

function showPanelError(error) {
  if (error instanceof HttpError && error.status === 401) {
    stores.fail(error);
    return;
  }
  const box = $("stores-error");
  box.textContent = error instanceof Error ? error.message : String(error);
}

async function loadStores() {
  const { stores: list } = await requestJson(STORES);
  stores.list = list;
  const known = new Set(list.map((s) => s.id));
  for (const id of stores.open) if (!known.has(id)) stores.open.delete(id);
  stores.selected = stores.selected.filter((id) => known.has(id)); // a deleted store is not searched
  renderStores();
  renderChips();
}

async function createStore() {
  const field = $("store-name");
  const name = field.value.trim();
  if (!name) {
    field.focus();
    return;
  }
  $("stores-error").textContent = "";
  const store = await requestJson(STORES, { method: "POST", json: { name } });
  field.value = "";
  stores.open.add(store.id);
  stores.documents.set(store.id, []);
  await loadStores();
  const item = storeItem(store.id);
  if (item) item.querySelector(".store-upload").focus();
}

async function deleteStore(id) {
  await request(storeUrl(id), { method: "DELETE" });
  stores.open.delete(id);
  stores.documents.delete(id);
  stores.reports.delete(id);
  stores.selected = stores.selected.filter((s) => s !== id);
  await loadStores();
  $("store-name").focus();
}

async function listDocuments(id) {
  const { documents } = await requestJson(`${storeUrl(id)}/documents`);
  stores.documents.set(id, documents);
  renderStores();
}

async function deleteDocument(id, doc) {
  await request(`${storeUrl(id)}/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
  await Promise.all([listDocuments(id), loadStores()]);
  const item = storeItem(id);
  if (item) item.querySelector(".store-upload").focus();
}

/** Uploads ``files`` into store ``id`` and shows what the store made of them. */
async function upload(id, files) {
  const form = new FormData();
  for (const file of files) form.append("file", file, file.name);
  const names = files.map((f) => f.name).join(", ");
  const report = { text: `Uploading ${names}…`, lines: [], busy: true };
  stores.reports.set(id, report);
  renderStores();
  try {
    const result = await send(`${storeUrl(id)}/documents`, form, (fraction) => {
      report.text = fraction < 1
        ? `Uploading ${names}… ${Math.round(fraction * 100)}%`
        : `Ingesting ${names}…`;
      updateReport(id);
    });
    report.text = summary(result);
    report.lines = [
      ...(result.added || []).map((d) => ["added", `Added: ${d.name}`]),
      ...(result.unchanged || []).map((d) => ["unchanged", `Unchanged: ${d.name}`]),
      ...(result.failed || []).map((f) => ["failed", `Failed: ${f.source}: ${f.reason}`]),
    ];
  } catch (error) {
    report.text = "Upload failed: " + error.message;
    report.lines = [];
    report.error = true;
    if (error instanceof HttpError && error.status === 401) stores.fail(error);
  } finally {
    report.busy = false;
  }
  stores.open.add(id);
  await Promise.all([listDocuments(id), loadStores()]);
}

function summary(result) {
  const count = (list) => (list || []).length;
  const parts = [`${count(result.added)} added`, `${count(result.unchanged)} unchanged`];
  if (count(result.failed)) parts.push(`${count(result.failed)} failed`);
  return `${parts.join(", ")} · ${plural(result.chunks ?? 0, "chunk", "chunks")}`;
}

/** A multipart POST with upload progress (``fetch`` reports none): the JSON answer. */
function send(url, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status >= 200 && xhr.status < 300 && body) resolve(body);
      else {
        const detail = body && typeof body.detail === "string" ? body.detail : xhr.statusText || `HTTP ${xhr.status}`;
        reject(new HttpError(detail, xhr.status));
      }
    };
    xhr.onerror = () => reject(new HttpError("the upload did not reach the gateway", 0));
    xhr.send(form);
  });
}

// -- rendering --------------------------------------------------------------------------

function storeItem(id) {
  return $("stores").querySelector(`.store[data-id="${CSS.escape(id)}"]`);
}

function storeName(id) {
  const store = stores.list && stores.list.find((s) => s.id === id);
  return store ? store.name : id;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function renderStores() {
  const box = $("stores");
  if (stores.list === null) return;
  const focused = document.activeElement && box.contains(document.activeElement)
    ? focusKey(document.activeElement) : null;
  box.innerHTML = "";
  if (!stores.list.length) {
    const empty = document.createElement("li");
    empty.className = "stores-empty";
    empty.textContent = "No stores yet: name one above, then upload documents into it.";
    box.append(empty);
  }
  for (const store of stores.list) box.append(renderStore(store));
  if (focused) {
    const again = box.querySelector(focused);
    if (again) again.focus();
  }
}

/** A selector that finds the focused control again after a re-render. */
function focusKey(element) {
  const item = element.closest(".store");
  if (!item) return null;
  const base = `.store[data-id="${CSS.escape(item.dataset.id)}"]`;
  for (const cls of ["store-check", "store-toggle", "store-delete", "store-upload"]) {
    if (element.classList.contains(cls)) return `${base} .${cls}`;
  }
  return null;
}

function renderStore(store) {
  const item = document.createElement("li");
  item.className = "store";
  item.dataset.id = store.id;
  const open = stores.open.has(store.id);
  const bodyId = `store-body-${store.id}`;

  const row = document.createElement("div");
  row.className = "store-row";
  const label = document.createElement("label");
  label.className = "store-label";
  const check = document.createElement("input");
  check.type = "checkbox";
  check.className = "store-check";
  check.checked = stores.selected.includes(store.id);
  check.onchange = () => select(store.id, check.checked);
  const name = document.createElement("span");
  name.className = "store-name";
  name.textContent = store.name;
  name.title = `Search “${store.name}” in this chat`;
  const counts = document.createElement("span");
  counts.className = "store-counts";
  counts.textContent = `${plural(store.document_count ?? 0, "doc", "docs")} · ${plural(store.chunk_count ?? 0, "chunk", "chunks")}`;
  const words = document.createElement("span");
  words.className = "store-words";
  words.append(name, counts);
  label.append(check, words);

  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "icon-button store-toggle";
  toggle.setAttribute("aria-expanded", String(open));
  toggle.setAttribute("aria-controls", bodyId);
  toggle.setAttribute("aria-label", `Documents of “${store.name}”`);
  toggle.title = toggle.getAttribute("aria-label");
  setIcon(toggle, "chevron");
  toggle.onclick = () => {
    if (stores.open.has(store.id)) stores.open.delete(store.id);
    else {
      stores.open.add(store.id);
      listDocuments(store.id).catch(showPanelError);
    }
    renderStores();
  };
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "icon-button store-delete";
  setIcon(remove, "trash");
  armable(remove, `Delete the store “${store.name}”`, `Press again to delete “${store.name}” and its documents`,
    () => deleteStore(store.id).catch(showPanelError));
  row.append(label, toggle, remove);
  item.append(row);

  const body = document.createElement("div");
  body.className = "store-body";
  body.id = bodyId;
  body.hidden = !open;
  if (open) body.append(...storeBody(store));
  item.append(body);
  return item;
}

function storeBody(store) {
  const parts = [];
  const documents = stores.documents.get(store.id);
  const list = document.createElement("ul");
  list.className = "documents";
  list.setAttribute("aria-label", `Documents in “${store.name}”`);
  if (!documents) {
    list.append(textItem("documents-empty", "Loading…"));
  } else if (!documents.length) {
    list.append(textItem("documents-empty", "No documents yet."));
  }
  for (const doc of documents || []) {
    const entry = document.createElement("li");
    entry.className = "document";
    entry.dataset.id = doc.id;
    const name = document.createElement("span");
    name.className = "document-name";
    name.textContent = doc.name;
    name.title = doc.name;
    const meta = document.createElement("span");
    meta.className = "document-meta";
    meta.textContent = `${sizeOf(doc.size_bytes)} · ${plural(doc.chunk_count ?? 0, "chunk", "chunks")}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "icon-button document-delete";
    setIcon(remove, "trash");
    armable(remove, `Delete “${doc.name}”`, `Press again to delete “${doc.name}”`,
      () => deleteDocument(store.id, doc).catch(showPanelError));
    entry.append(name, meta, remove);
    list.append(entry);
  }
  parts.push(list);

  const picker = document.createElement("input");
  picker.type = "file";
  picker.multiple = true;
  picker.className = "visually-hidden store-file";
  picker.id = `store-file-${store.id}`;
  picker.tabIndex = -1;
  picker.onchange = () => {
    const files = [...picker.files];
    if (files.length) upload(store.id, files).catch(showPanelError);
  };
  const choose = document.createElement("button");
  choose.type = "button";
  choose.className = "button store-upload";
  setIcon(choose, "upload");
  choose.append(" Upload");
  choose.setAttribute("aria-label", `Upload documents into “${store.name}”`);
  choose.onclick = () => picker.click();
  const hint = document.createElement("span");
  hint.className = "store-hint";
  hint.textContent = "or drop files here";
  const actions = document.createElement("div");
  actions.className = "store-actions";
  actions.append(picker, choose, hint);
  parts.push(actions);

  const report = document.createElement("div");
  report.className = "upload-report";
  report.setAttribute("role", "status");
  report.setAttribute("aria-live", "polite");
  fillReport(report, stores.reports.get(store.id));
  parts.push(report);
  return parts;
}

function textItem(className, text) {
  const item = document.createElement("li");
  item.className = className;
  item.textContent = text;
  return item;
}

function updateReport(id) {
  const item = storeItem(id);
  const box = item && item.querySelector(".upload-report");
  if (box) fillReport(box, stores.reports.get(id));
}

function fillReport(box, report) {
  box.textContent = "";
  if (!report) return;
  box.dataset.busy = String(report.busy);
  box.classList.toggle("error", Boolean(report.error));
  const head = document.createElement("p");
  head.className = "report-summary";
  for (const piece of report.text.split(/(\d+ [a-z]+)/)) {
    if (!/^\d+ [a-z]+$/.test(piece)) {
      head.append(piece);
      continue;
    }
    const count = document.createElement("span");
    count.className = "count"; // "1 chunk" is never cut in two
    count.textContent = piece;
    head.append(count);
  }
  box.append(head);
  if (!report.lines.length) return;
  const list = document.createElement("ul");
  for (const [kind, text] of report.lines) {
    const line = document.createElement("li");
    line.className = kind;
    line.textContent = text;
    list.append(line);
  }
  box.append(list);
}

function sizeOf(bytes) {
  if (typeof bytes !== "number") return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Delete takes two presses: the first arms the button for four seconds. */
function armable(button, label, armed, action) {
  button.setAttribute("aria-label", label);
  button.title = label;
  button.onclick = () => {
    if (button.dataset.confirm) {
      action();
      return;
    }
    button.dataset.confirm = "true";
    button.setAttribute("aria-label", armed);
    button.title = armed;
    setTimeout(() => {
      delete button.dataset.confirm;
      button.setAttribute("aria-label", label);
      button.title = label;
    }, 4000);
  };
}

// -- the chat's stores -------------------------------------------------------------------

function select(id, on) {
  stores.selected = on
    ? [...new Set([...stores.selected, id])]
    : stores.selected.filter((s) => s !== id);
  renderChips();
}

function renderChips() {
  const box = $("store-chips");
  box.textContent = "";
  for (const id of stores.selected) {
    const chip = document.createElement("span");
    chip.className = "store-chip";
    chip.dataset.id = id;
    const name = document.createElement("span");
    name.textContent = storeName(id);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.setAttribute("aria-label", `Stop searching “${storeName(id)}”`);
    remove.title = remove.getAttribute("aria-label");
    setIcon(remove, "close");
    remove.onclick = () => {
      select(id, false);
      renderStores();
      $("input").focus();
    };
    setIcon(chip, "book");
    chip.append(name, remove);
    box.append(chip);
  }
  box.hidden = !stores.selected.length;
}
