// Model text to safe, rendered markdown: marked parses it, DOMPurify strips anything
// active from the HTML (scripts, handlers, forms, images, styles), highlight.js colours
// finished code blocks, and each gets a copy button. Sources/citations render as links.
import { icon } from "./icons.js";

const PURIFY = {
  USE_PROFILES: { html: true },
  // No remote images (they would call out), no forms or styles from a model.
  FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select", "option",
    "iframe", "video", "audio", "source", "picture", "svg", "math", "link", "meta"],
  FORBID_ATTR: ["style", "id", "name", "srcset"],
};
let configured = false;

/** One-time set-up of the libraries (they load as deferred scripts before this module). */
function configure() {
  if (configured) return;
  configured = true;
  window.marked.setOptions({ gfm: true, breaks: true });
  window.hljs.configure({ ignoreUnescapedHTML: true });
  window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // Only marked's "language-x" classes survive (no borrowing of the page's own styles).
    const keep = [...node.classList].filter((name) => /^language-[\w+#.-]+$/.test(name));
    if (node.hasAttribute("class")) {
      if (keep.length) node.setAttribute("class", keep.join(" "));
      else node.removeAttribute("class");
    }
  });
}

/** Renders ``text`` as markdown into ``element``; ``done`` also highlights code blocks. */
export function renderMarkdown(element, text, done = false) {
  configure();
  const html = window.marked.parse(text, { async: false });
  element.innerHTML = window.DOMPurify.sanitize(html, PURIFY);
  for (const pre of element.querySelectorAll("pre")) decorateCode(pre, done);
}

/** Wraps a ``<pre>`` in a code block with its language and a copy button. */
function decorateCode(pre, done) {
  const code = pre.querySelector("code") || pre;
  const language = ([...code.classList].find((c) => c.startsWith("language-")) || "").slice(9);
  const block = document.createElement("div");
  block.className = "code-block";
  block.dataset.lang = language || "code";
  pre.replaceWith(block);
  block.append(pre);
  if (!done) return;
  if (code.textContent.length < 100000) window.hljs.highlightElement(code);
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "icon-button copy";
  copy.setAttribute("aria-label", "Copy code");
  copy.title = "Copy code";
  copy.innerHTML = icon("copy", "idle") + icon("check", "done");
  copy.onclick = () => copyWithFeedback(copy, code.textContent);
  block.append(copy);
}

/** Copies ``text`` and shows it on ``button`` for a moment (``data-copied``). */
export async function copyWithFeedback(button, text) {
  const label = button.getAttribute("aria-label");
  try {
    await copyText(text);
  } catch (error) {
    button.title = "Could not copy: " + error.message;
    return;
  }
  button.dataset.copied = "true";
  button.setAttribute("aria-label", "Copied");
  setTimeout(() => {
    delete button.dataset.copied;
    button.setAttribute("aria-label", label);
  }, 2000);
}

/** The clipboard API where the page may use it, else the old selection trick. */
async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch (error) {
      // not allowed (no focus, or a policy): fall back below
    }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("the browser refused");
}

// -- sources and citations --------------------------------------------------------------

// Where answers carry their sources, in the spellings the APIs use (Gemini grounding and
// citation metadata, OpenAI-style annotations, or a plain list).
const SOURCE_KEYS = new Set([
  "citations", "sources", "annotations", "url_citation", "citationMetadata", "citation_metadata",
  "citationSources", "citation_sources", "groundingMetadata", "grounding_metadata",
  "groundingChunks", "grounding_chunks", "web", "retrievedContext", "retrieved_context",
]);

/** The distinct http(s) sources ({url, title}) found in any of ``values``. */
export function sourcesOf(...values) {
  const found = new Map();
  const visit = (value, depth) => {
    if (!value || typeof value !== "object" || depth > 6) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    const url = typeof value.uri === "string" ? value.uri : value.url;
    if (typeof url === "string" && /^https?:\/\//i.test(url) && !found.has(url)) {
      found.set(url, { url, title: typeof value.title === "string" && value.title ? value.title : hostOf(url) });
    }
    for (const [key, inner] of Object.entries(value)) {
      if (SOURCE_KEYS.has(key)) visit(inner, depth + 1);
    }
  };
  for (const value of values) {
    if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) if (SOURCE_KEYS.has(key)) visit(inner, 0);
    }
  }
  return [...found.values()];
}

function hostOf(url) {
  try {
    return new URL(url).host;
  } catch (error) {
    return url;
  }
}

/** A "Sources" list of links (text only, so nothing in a title can run). */
export function sourcesElement(sources) {
  const box = document.createElement("nav");
  box.className = "sources";
  box.setAttribute("aria-label", "Sources");
  const heading = document.createElement("h3");
  heading.textContent = "Sources";
  const list = document.createElement("ol");
  for (const { url, title } of sources) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = url;
    link.textContent = title;
    link.title = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer nofollow";
    item.append(link);
    list.append(item);
  }
  box.append(heading, list);
  return box;
}
