// Grounded answers: Gemini's groundingMetadata (from retrieval stores or the web) as a
// "Sources" list whose entries open the chunk each one quotes, with the answer's [n]
// markers turned into buttons that open the n-th source. Titles and chunk texts are
// untrusted: they only ever reach the page as text.

const GROUNDING_KEYS = ["groundingMetadata", "grounding_metadata"];
const SKIP_MARKERS = new Set(["CODE", "PRE", "A", "BUTTON"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The first groundingMetadata in ``values``, as {groundingChunks, groundingSupports}. */
export function groundingOf(...values) {
  for (const value of values) {
    if (!value || typeof value !== "object") continue;
    for (const candidate of [value, ...GROUNDING_KEYS.map((key) => value[key])]) {
      const grounding = asGrounding(candidate);
      if (grounding) return grounding;
    }
  }
  return null;
}

function asGrounding(value) {
  if (!value || typeof value !== "object") return null;
  const chunks = value.groundingChunks || value.grounding_chunks;
  if (!Array.isArray(chunks)) return null;
  const supports = value.groundingSupports || value.grounding_supports;
  return { groundingChunks: chunks, groundingSupports: Array.isArray(supports) ? supports : [] };
}

/** One source per grounding chunk, in order (the answer's [n] is the n-th): or [] when
 * none of them is a retrieved document (web-only sources stay plain links). */
export function citedSources(grounding) {
  if (!grounding) return [];
  const chunks = grounding.groundingChunks.map((chunk) => chunk || {});
  if (!chunks.some((chunk) => chunk.retrievedContext || chunk.retrieved_context)) return [];
  return chunks.map((chunk, index) => {
    const context = chunk.retrievedContext || chunk.retrieved_context || chunk.web || {};
    const uri = typeof context.uri === "string" && /^https?:\/\//i.test(context.uri) ? context.uri : "";
    const page = context.pageNumber ?? context.page_number;
    return {
      index,
      title: textOf(context.title) || textOf(context.documentName || context.document_name) || uri || "Source",
      page: Number.isInteger(page) ? page : null,
      url: uri,
      text: textOf(context.text),
      segments: segmentsCiting(grounding, index),
    };
  });
}

function textOf(value) {
  return typeof value === "string" ? value : "";
}

/** The sentences that cite chunk ``index``, as the answer's text spells them. */
function segmentsCiting(grounding, index) {
  const found = [];
  for (const support of grounding.groundingSupports) {
    const indices = support.groundingChunkIndices || support.grounding_chunk_indices || [];
    if (indices.includes(index) && support.segment) found.push(support.segment);
  }
  return found;
}

/** The segment's text: its UTF-8 byte offsets in ``answer`` if they fit, else its own text. */
export function segmentText(answer, segment) {
  const start = segment.startIndex ?? segment.start_index ?? 0;
  const end = segment.endIndex ?? segment.end_index;
  if (Number.isInteger(end) && Number.isInteger(start) && end > start) {
    const bytes = encoder.encode(answer);
    if (end <= bytes.length) {
      const text = decoder.decode(bytes.slice(start, end)).trim();
      if (text) return text;
    }
  }
  return textOf(segment.text).trim();
}

/** The "Sources" list of a grounded answer; ``body`` is the rendered answer, ``text`` its source. */
export function citationsElement(sources, body, text) {
  const box = document.createElement("nav");
  box.className = "sources cited";
  box.setAttribute("aria-label", "Sources");
  const heading = document.createElement("h3");
  heading.textContent = "Sources";
  const list = document.createElement("ol");
  const id = "src-" + Math.random().toString(36).slice(2, 10);
  for (const source of sources) list.append(sourceItem(source, `${id}-${source.index}`, body, text));
  box.append(heading, list);
  linkMarkers(body, sources, (index) => openSource(box, index));
  return box;
}

function sourceItem(source, id, body, text) {
  const item = document.createElement("li");
  item.className = "source";
  item.dataset.index = String(source.index);
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "source-toggle";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", id);
  const title = document.createElement("span");
  title.className = "source-title";
  title.textContent = source.title;
  toggle.append(title);
  if (source.page !== null) {
    const page = document.createElement("span");
    page.className = "source-page";
    page.textContent = `p. ${source.page}`;
    toggle.append(page);
  }
  const chunk = document.createElement("blockquote");
  chunk.className = "chunk";
  chunk.id = id;
  chunk.hidden = true;
  chunk.textContent = source.text || "(the source gave no text)";
  toggle.onclick = () => setOpen(item, chunk.hidden);
  item.append(toggle);
  if (source.url) {
    const link = document.createElement("a");
    link.href = source.url;
    link.textContent = "open";
    link.title = source.url;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    link.setAttribute("aria-label", `Open ${source.title} in a new tab`);
    item.append(link);
  }
  item.append(chunk);
  const segments = source.segments.map((segment) => segmentText(text, segment)).filter(Boolean);
  const show = () => highlight(body, segments);
  const hide = () => highlight(body, []);
  item.addEventListener("mouseenter", show);
  item.addEventListener("mouseleave", hide);
  item.addEventListener("focusin", show);
  item.addEventListener("focusout", hide);
  return item;
}

function setOpen(item, open) {
  item.querySelector(".chunk").hidden = !open;
  item.querySelector(".source-toggle").setAttribute("aria-expanded", String(open));
  item.classList.toggle("open", open);
}

/** Opens the source at ``index`` (a [n] marker was pressed) and moves the focus to it. */
function openSource(box, index) {
  const item = box.querySelector(`.source[data-index="${index}"]`);
  if (!item) return;
  setOpen(item, true);
  const toggle = item.querySelector(".source-toggle");
  toggle.focus();
  item.scrollIntoView({ block: "nearest" });
}

/** Each "[n]" of the rendered answer (outside code and links) becomes a button. */
function linkMarkers(body, sources, onOpen) {
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el && el !== body; el = el.parentElement) {
        if (SKIP_MARKERS.has(el.tagName)) return NodeFilter.FILTER_REJECT;
      }
      return /\[\d+\]/.test(node.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_REJECT;
    },
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const pieces = node.nodeValue.split(/(\[\d+\])/);
    const fragment = document.createDocumentFragment();
    for (const piece of pieces) {
      const match = /^\[(\d+)\]$/.exec(piece);
      const source = match && sources[Number(match[1]) - 1];
      if (!source) {
        if (piece) fragment.append(piece);
        continue;
      }
      const cite = document.createElement("button");
      cite.type = "button";
      cite.className = "cite";
      cite.textContent = piece;
      cite.setAttribute("aria-label", `Source ${match[1]}: ${source.title}`);
      cite.title = source.title;
      cite.onclick = () => onOpen(source.index);
      fragment.append(cite);
    }
    node.replaceWith(fragment);
  }
}

/** Marks ``segments`` in ``body`` with the CSS highlight "cited" (where supported). */
function highlight(body, segments) {
  if (!window.CSS || !CSS.highlights || typeof Highlight !== "function") return;
  if (!segments.length) {
    CSS.highlights.delete("cited");
    return;
  }
  const nodes = [];
  let whole = "";
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    nodes.push({ node: walker.currentNode, start: whole.length });
    whole += walker.currentNode.nodeValue;
  }
  const ranges = [];
  for (const segment of segments) {
    const at = whole.indexOf(segment);
    if (at < 0) continue;
    const range = new Range();
    const [startNode, startOffset] = locate(nodes, at);
    const [endNode, endOffset] = locate(nodes, at + segment.length);
    range.setStart(startNode, startOffset);
    range.setEnd(endNode, endOffset);
    ranges.push(range);
  }
  if (ranges.length) CSS.highlights.set("cited", new Highlight(...ranges));
  else CSS.highlights.delete("cited");
}

function locate(nodes, offset) {
  let found = nodes[0];
  for (const entry of nodes) {
    if (entry.start <= offset) found = entry;
    else break;
  }
  return [found.node, Math.min(offset - found.start, found.node.nodeValue.length)];
}
