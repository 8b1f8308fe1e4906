// The live feed of my audit trail: GET /v1/audit/patients/{me}/events, server-sent events
// read with fetch() and a ReadableStream, because EventSource cannot send the signed-request
// headers. Reconnects after the node ends a stream or the network drops, backing off.
import { errorFrom, segment } from "../hl/api.js";
import { describe } from "../hl/ui.js";

const MAX_EVENT_CHARS = 256 * 1024;

const RETRY_MS = [1000, 3000, 10000, 30000];

// Split a text stream into server-sent events: { event, data, id } (comments are skipped).
export function parseEvents(block) {
  let event = "message";
  let id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return data.length ? { event, id, data: data.join("\n") } : null;
}

export class Feed {
  // `on.event(kind, data)` for each event, `on.state(text, kind)` for the connection's state.
  constructor(session, on) {
    this.session = session;
    this.on = on;
    this.controller = null;
    this.stopped = false;
    this.failures = 0;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    if (!this.controller) this.#connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.controller = null;
  }

  async #connect() {
    const controller = new AbortController();
    this.controller = controller;
    const api = this.session.api;
    const path = `/v1/audit/patients/${segment(this.session.patientId)}/events`;
    try {
      const response = await fetch(path, {
        headers: api.headers("GET", path),
        cache: "no-store",
        credentials: "omit",
        signal: controller.signal,
      });
      if (!response.ok) {
        const error = await errorFrom(response);
        this.on.state(`Live updates refused: ${describe(error)}`, "error");
        return this.#retry(error.code === "rate_limited" ? RETRY_MS.length - 1 : this.failures);
      }
      await this.#read(response.body.getReader());
      if (!this.stopped) this.#retry(0);
    } catch (error) {
      if (this.stopped || controller.signal.aborted) return;
      this.on.state(`Live updates interrupted: ${describe(error)}`, "error");
      this.#retry(this.failures);
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }

  async #read(reader) {
    const decoder = new TextDecoder();
    let pending = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let cut;
      while ((cut = pending.indexOf("\n\n")) >= 0) {
        const parsed = parseEvents(pending.slice(0, cut));
        pending = pending.slice(cut + 2);
        if (parsed) this.#dispatch(parsed);
      }
      // One event is a few hundred bytes: a node that never ends one is not to be buffered.
      if (pending.length > MAX_EVENT_CHARS) throw new Error("the node sent an event too large to be one");
    }
  }

  #dispatch({ event, data }) {
    let value = null;
    try {
      value = JSON.parse(data);
    } catch {
      return; // not ours to understand
    }
    if (event === "ready") {
      this.failures = 0;
      this.on.state(`Live: new events appear here as their block commits (from height ${value.height}).`, "ok");
    } else if (event === "end") {
      this.on.state(`Live updates paused: ${value.reason}; reconnecting…`, "info");
    }
    this.on.event(event, value);
  }

  #retry(step) {
    if (this.stopped) return;
    this.failures = Math.min(step + 1, RETRY_MS.length);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#connect(), RETRY_MS[Math.min(step, RETRY_MS.length - 1)]);
  }
}
