// Sends the runtime's recorded calls to the server in numbered batches
// (player/PROTOCOL.md §4): 1, 2, 3… per session with no gaps, each batch
// kept in localStorage until the server acknowledges or refuses it, sent in
// order, and resent unchanged (same number, same calls) until then.

const PREFIX = "allureconnect.pending.";

/** The most a beacon (or a keepalive fetch) may carry. */
const BEACON_BYTES = 64 * 1024;

/** What the server's answer means for a batch. */
function outcomeOf(status, text) {
  if (status === 200) return { kind: "acked" };
  if (status === 409 || status === 403) {
    let code = status === 403 ? "invalid_session_token" : "refused";
    try {
      code = JSON.parse(text).error.code || code;
    } catch {
      // A refusal without the usual body is still a refusal.
    }
    // Lost a race with another request on the registration: not a refusal.
    if (code === "concurrent_update") return { kind: "keep" };
    return { kind: "refused", code };
  }
  return { kind: "keep" };
}

/** A synchronous POST: the only way a SCO's synchronous call can wait for the server. */
function postSync(url, json) {
  const request = new XMLHttpRequest();
  try {
    request.open("POST", url, false);
    request.setRequestHeader("Content-Type", "application/json");
    request.send(json);
  } catch {
    return { status: 0, text: "" };
  }
  return { status: request.status, text: request.responseText };
}

async function postAsync(url, json, keepalive = false) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: json,
      keepalive,
      credentials: "same-origin",
    });
    return { status: response.status, text: await response.text() };
  } catch {
    return { status: 0, text: "" };
  }
}

/** localStorage, or nothing when the browser refuses it (private modes, blocked storage). */
function defaultStorage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function storageKeys(storage) {
  const keys = [];
  try {
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key && key.startsWith(PREFIX)) keys.push(key);
    }
  } catch {
    // Unreadable storage holds nothing we can send.
  }
  return keys;
}

/**
 * Sends the batches earlier launches kept (§2), oldest session first and in
 * batch order within a session; stops at the first batch that cannot be
 * delivered now. Resolves to the number of batches delivered or refused.
 */
export async function flushKept(storage = defaultStorage()) {
  if (!storage) return 0;
  const sessions = new Map();
  for (const key of storageKeys(storage)) {
    const rest = key.slice(PREFIX.length);
    const dot = rest.lastIndexOf(".");
    const number = Number(rest.slice(dot + 1));
    let kept;
    try {
      kept = JSON.parse(storage.getItem(key));
    } catch {
      kept = null;
    }
    if (dot <= 0 || !Number.isInteger(number) || !kept || typeof kept.url !== "string" || !kept.body) {
      storage.removeItem(key);
      continue;
    }
    const session = rest.slice(0, dot);
    if (!sessions.has(session)) sessions.set(session, []);
    sessions.get(session).push({ key, number, kept });
  }
  const firstCall = (batches) => {
    const times = batches.flatMap((b) => (b.kept.body.calls || []).map((c) => c.at || "")).filter(Boolean);
    return times.length ? times.sort()[0] : "";
  };
  const ordered = [...sessions.values()]
    .map((batches) => batches.sort((a, b) => a.number - b.number))
    .sort((a, b) => (firstCall(a) < firstCall(b) ? -1 : firstCall(a) > firstCall(b) ? 1 : 0));
  let settled = 0;
  for (const batches of ordered) {
    for (const { key, kept } of batches) {
      const answer = await postAsync(kept.url, JSON.stringify(kept.body));
      const outcome = outcomeOf(answer.status, answer.text);
      if (outcome.kind === "keep") return settled;
      storage.removeItem(key);
      settled++;
      // A session that is over refuses its later batches too; they are
      // still sent, so that the server records each refusal.
    }
  }
  return settled;
}

/**
 * The batches of one session. `attach(activityId, runtime)` names where
 * calls come from; `cut()` turns the calls recorded since the last batch
 * into the next numbered batch; the `send…` methods deliver the queue.
 */
export class Transport {
  constructor({ sessionId, sessionToken, tracking = true, storage = defaultStorage(), onStopped = () => {} }) {
    this.sessionId = sessionId;
    this.url = `/runtime/${encodeURIComponent(sessionToken)}/commit`;
    this.tracking = tracking;
    this.storage = storage;
    this.onStopped = onStopped;
    this.nextBatch = 1;
    this.outbox = [];
    this.source = null;
    this.stopped = null;
    this.chain = Promise.resolve(true);
  }

  /** Calls now come from `runtime`, for `activityId`; the previous runtime's calls are cut first. */
  attach(activityId, runtime) {
    this.cut();
    this.source = runtime ? { activityId, runtime } : null;
  }

  /** True when calls wait to be cut or batches to be acknowledged. */
  hasUnsent() {
    return this.outbox.length > 0 || (this.source !== null && this.source.runtime.calls.length > 0);
  }

  /** Moves the calls recorded since the last batch into the next numbered batch. */
  cut() {
    if (!this.source) return null;
    const calls = this.source.runtime.takeCalls();
    if (!this.tracking || this.stopped || calls.length === 0) return null;
    const number = this.nextBatch++;
    const body = {
      batch: number,
      activity_id: this.source.activityId,
      calls,
      final: calls.some((call) => call.fn === "Terminate" && call.result === "true"),
      page_hide: false,
    };
    const entry = { number, key: `${PREFIX}${this.sessionId}.${number}`, body };
    this.outbox.push(entry);
    this.keep(entry);
    return entry;
  }

  keep(entry) {
    if (!this.storage) return;
    try {
      this.storage.setItem(entry.key, JSON.stringify({ url: this.url, body: entry.body }));
    } catch {
      // A full or blocked storage: the batch stays in memory and is retried
      // while the page lives.
    }
  }

  forget(entry) {
    if (!this.storage) return;
    try {
      this.storage.removeItem(entry.key);
    } catch {
      // Nothing to clean up in a storage we cannot use.
    }
  }

  /** Applies the server's answer to a batch; returns the outcome's kind. */
  settle(entry, status, text) {
    const outcome = outcomeOf(status, text);
    if (outcome.kind === "keep") return "keep";
    const at = this.outbox.indexOf(entry);
    if (at >= 0) this.outbox.splice(at, 1);
    this.forget(entry);
    if (outcome.kind === "refused" && ["session_superseded", "session_ended", "invalid_session_token"].includes(outcome.code)) {
      this.stop(outcome.code);
    }
    return outcome.kind;
  }

  stop(reason) {
    if (this.stopped) return;
    this.stopped = reason;
    // The session takes nothing more: its other batches would be refused too.
    for (const entry of this.outbox) this.forget(entry);
    this.outbox = [];
    this.onStopped(reason);
  }

  /**
   * Cuts a batch and sends the queue now, in order, waiting for each answer
   * (synchronous requests). True when every batch was acknowledged.
   */
  sendSync() {
    if (!this.tracking) return true;
    this.cut();
    if (this.stopped) return false;
    for (const entry of [...this.outbox]) {
      if (!this.outbox.includes(entry)) continue;
      const answer = postSync(this.url, JSON.stringify(entry.body));
      if (this.settle(entry, answer.status, answer.text) !== "acked") return false;
      if (this.stopped) return false;
    }
    return true;
  }

  /**
   * Cuts a batch and sends the queue in order with `fetch`, after any
   * sending already under way. Resolves to true when everything was
   * acknowledged.
   */
  sendAsync() {
    if (!this.tracking) return Promise.resolve(true);
    const run = this.chain.then(async () => {
      this.cut();
      let delivered = true;
      for (const entry of [...this.outbox]) {
        if (this.stopped) return false;
        if (!this.outbox.includes(entry)) continue;
        const answer = await postAsync(this.url, JSON.stringify(entry.body));
        const kind = this.settle(entry, answer.status, answer.text);
        if (kind === "keep") return false;
        delivered = delivered && kind === "acked";
      }
      return delivered && !this.stopped;
    });
    this.chain = run.catch(() => false);
    return this.chain;
  }

  /**
   * At page hide: cuts a batch and hands every unacknowledged batch to the
   * browser in one `sendBeacon` (or `keepalive` fetch) as
   * `{"batches": [...]}`, in order: separate beacons may arrive out of
   * order, and a batch that comes before its predecessor is refused. They
   * stay kept: the next load resends them and the server ignores numbers
   * it has seen. A beacon holds at most 64 KB; the batches that do not fit
   * wait in localStorage for the next load.
   */
  sendBeacon() {
    if (!this.tracking) return;
    this.cut();
    if (this.stopped) return;
    let batches = this.outbox.map((entry) => ({ ...entry.body, page_hide: true }));
    let json = "";
    while (batches.length > 0) {
      json = JSON.stringify({ batches });
      if (new Blob([json]).size <= BEACON_BYTES) break;
      batches = batches.slice(0, -1);
    }
    if (batches.length === 0) return;
    let queued = false;
    try {
      queued = navigator.sendBeacon(this.url, new Blob([json], { type: "application/json" }));
    } catch {
      queued = false;
    }
    if (!queued) postAsync(this.url, json, true);
  }
}
