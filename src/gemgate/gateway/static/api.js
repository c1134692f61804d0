// The gateway's REST API as the page uses it: JSON requests with the gateway key (when
// the user signed in with one), failures as errors with the server's "detail", and
// server-sent event streams read one JSON event at a time.

export const SESSIONS = "/api/v1/sessions";

/** A failed request: ``status`` is the HTTP status (0 when the network failed). */
export class HttpError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

let gatewayKey = null;

/** Remembers the key signed in with (kept in memory only; the cookie outlives it). */
export function useKey(key) {
  gatewayKey = key;
}

/** The headers that carry the key (none when the page signed in without one). */
export function authHeaders() {
  return gatewayKey ? { authorization: "Bearer " + gatewayKey } : {};
}

/** ``fetch`` with JSON bodies and the key; throws an ``HttpError`` unless 2xx. */
export async function request(url, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (gatewayKey) headers.authorization = "Bearer " + gatewayKey;
  if (options.json !== undefined) headers["content-type"] = "application/json";
  const init = { ...options, headers };
  if (options.json !== undefined) init.body = JSON.stringify(options.json);
  delete init.json;
  const response = await fetch(url, init);
  if (!response.ok) throw new HttpError(await detailOf(response), response.status);
  return response;
}

/** ``request`` and the JSON it answers. */
export async function requestJson(url, options = {}) {
  return (await request(url, options)).json();
}

/** What a failed response says went wrong. */
async function detailOf(response) {
  let detail = response.statusText || "HTTP " + response.status;
  try {
    const body = await response.json();
    const said = body.detail || (body.error && body.error.message);
    if (typeof said === "string") detail = said;
    else if (said) detail = JSON.stringify(said);
  } catch (error) {
    // not JSON: keep the status text
  }
  return detail;
}

/** Calls ``onEvent`` with each ``data:`` event of a server-sent event stream, in order. */
export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart());
      if (data.length) onEvent(JSON.parse(data.join("\n")));
    }
  }
}
