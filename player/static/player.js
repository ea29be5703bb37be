// The player shell (player/PROTOCOL.md): starts a session, delivers each
// activity into the content frame with a fresh runtime behind `window.API` /
// `window.API_1484_11`, sends the recorded calls in numbered batches, shows
// the table of contents and the navigation controls, and the end page.

import { Model, ScormRuntime } from "./cmi-runtime.js";
import { createApi } from "./scorm-api.js";
import { Transport, flushKept } from "./transport.js";

/** How often unsent calls are sent while there are any (§4). */
const FLUSH_MS = 5000;

const LABELS = {
  completed: "completed",
  passed: "passed",
  failed: "failed",
};

async function postJson(url, body) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let json = null;
    try {
      json = await response.json();
    } catch {
      json = null;
    }
    return { ok: response.ok, status: response.status, body: json };
  } catch {
    return { ok: false, status: 0, body: null };
  }
}

/** `url` when it is an http(s) address, else null (no `javascript:` redirects). */
function webUrl(url) {
  if (typeof url !== "string" || url === "") return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

class Player {
  constructor(config) {
    this.config = config;
    this.tracking = config.tracking !== false;
    this.element = (id) => document.getElementById(id);
    this.frame = this.element("ac-frame");
    this.nav = null;
    this.runtime = null;
    this.activityId = null;
    this.scoLoaded = false;
    this.scoUnloading = false;
    this.pageHiding = false;
    this.busy = false;
    this.ended = false;
  }

  async start() {
    this.bindControls();
    // xAPI content has no SCORM data model: it reports to the LRS itself.
    this.model = null;
    if (this.config.model_url) {
      try {
        const response = await fetch(this.config.model_url, { credentials: "same-origin" });
        this.model = new Model(await response.json());
      } catch {
        return this.fail("The course player could not load. Reload the page to try again.");
      }
    }
    if (this.tracking) await flushKept();
    const started = await postJson("/runtime/sessions", { launch_token: this.config.launch_token });
    if (!started.ok || !started.body) {
      const expired = started.status === 403;
      return this.fail(
        expired
          ? "This launch link has expired or is not valid. Open the course again from where you started it."
          : "The course could not be started. Reload the page to try again.",
      );
    }
    const session = started.body;
    this.token = encodeURIComponent(session.session_token);
    this.transport = new Transport({
      sessionId: session.session_id,
      sessionToken: session.session_token,
      tracking: this.tracking,
      onStopped: (reason) => this.stopped(reason),
    });
    this.watchPage();
    this.startTimers();
    this.element("ac-loading").hidden = true;
    await this.apply(session.navigation);
  }

  // --- Navigation ------------------------------------------------------------

  /** Shows a navigation answer (§5) and acts on it. */
  async apply(nav) {
    if (!nav) return;
    this.nav = nav;
    this.renderToc(nav.toc || []);
    this.renderControls();
    if (nav.exception) this.say(`That is not possible right now (${nav.exception}).`);
    else if (!this.transport.stopped) this.clearMessage();
    if (nav.ended) return this.end();
    if (nav.deliver) return this.deliver(nav.deliver);
  }

  /** Sends a navigation request; leaving the current SCO unloads it and sends its calls first. */
  async navigate(request, target) {
    if (this.busy || this.ended) return;
    if (request === "auto" && !this.tracking) {
      // A preview records nothing, so the server cannot read the SCO's
      // adl.nav.request: the page sends it as the request itself.
      const asked = this.contentRequest();
      if (!asked) return;
      [request, target] = asked;
    }
    this.busy = true;
    this.renderControls();
    try {
      if (request === "auto") {
        if (this.tracking) await this.transport.sendAsync();
      } else if (!(await this.unloadSco())) {
        return;
      }
      const body = target === undefined ? { request } : { request, target };
      // Only a preview's is read (it has no recorded deliveries).
      if (this.activityId) body.current = this.activityId;
      const answer = await postJson(`/runtime/${this.token}/navigate`, body);
      if (!answer.ok || !answer.body) {
        this.say("The next step could not be loaded. Check your connection and try again.", true);
        return;
      }
      await this.apply(answer.body);
    } finally {
      this.busy = false;
      this.renderControls();
    }
  }

  /**
   * The terminated SCO's `adl.nav.request` as `[request, target]`, or null
   * when it made none (`_none_`, or SCORM 1.2).
   */
  contentRequest() {
    const asked = this.runtime ? this.runtime.navRequest() : null;
    if (!asked || asked === "_none_") return null;
    const targeted = /^\{target=(.*)\}(choice|jump)$/.exec(asked);
    return targeted ? [targeted[2], targeted[1]] : [asked, undefined];
  }

  /** Loads an activity (§3) into the content frame with a fresh runtime. */
  async deliver(activityId) {
    // Every call of the previous runtime is acknowledged before the server
    // starts the next one.
    if (!(await this.unloadSco())) return;
    const answer = await postJson(`/runtime/${this.token}/deliver`, { activity_id: activityId });
    if (!answer.ok || !answer.body) {
      this.say("This part of the course could not be loaded. Try again.", true);
      return;
    }
    const delivery = answer.body;
    delete window.API;
    delete window.API_1484_11;
    this.runtime = null;
    if (delivery.scorm && this.model) {
      const apiName = this.model.json.api_object;
      try {
        this.runtime = new ScormRuntime(this.model, delivery.context, {
          // A preview sends nothing, so it keeps nothing either.
          record: this.tracking ? "all" : "none",
          clock: () => new Date().toISOString(),
        });
      } catch (error) {
        this.say(`This part of the course cannot start: ${error.message}`, true);
        return;
      }
      // adl.nav.request_valid.* are the launch context's (nav_validity):
      // what the sequencer answered at this delivery, which the server's
      // replay of the calls sees too.
      window[apiName] = createApi(this.runtime, this.host());
    }
    this.activityId = delivery.activity_id;
    this.transport.attach(delivery.activity_id, this.runtime);
    this.frame.title = delivery.title || "Course content";
    this.frame.hidden = false;
    this.element("ac-end").hidden = true;
    this.frame.src = delivery.url;
    this.scoLoaded = true;
  }

  /**
   * Unloads the content frame so the SCO finishes (content calls Terminate
   * on unload), then sends what it recorded. False when that could not be
   * delivered: the player stays, so nothing is skipped.
   */
  async unloadSco() {
    if (this.scoLoaded) {
      this.scoUnloading = true;
      await new Promise((resolve) => {
        this.frame.addEventListener("load", resolve, { once: true });
        this.frame.src = "about:blank";
      });
      this.scoUnloading = false;
      this.scoLoaded = false;
    }
    if (!this.tracking || this.transport.stopped) return true;
    const delivered = await this.transport.sendAsync();
    if (!delivered) {
      this.say("Your progress could not be saved just now. It is kept in this browser and will be sent when the connection returns.", true);
    }
    return delivered;
  }

  async end() {
    this.ended = true;
    await this.unloadSco();
    this.frame.hidden = true;
    this.renderControls();
    const end = this.element("ac-end");
    end.hidden = false;
    const redirect = webUrl(this.config.redirect_url);
    if (redirect) {
      this.element("ac-end-text").textContent = "Taking you back…";
      window.location.assign(redirect);
      return;
    }
    this.element("ac-end-title").focus();
  }

  // --- The SCO's host ----------------------------------------------------------

  /** What `Commit` and `Terminate` need from the player (see scorm-api.js). */
  host() {
    return {
      persist: () => {
        if (!this.tracking) return true;
        if (this.transport.stopped) return false;
        if (this.pageHiding) {
          // The page is going away: nothing can wait for an answer.
          this.transport.sendBeacon();
          return true;
        }
        if (this.scoUnloading) {
          // The player unloads the SCO and sends its calls right after.
          this.transport.cut();
          return true;
        }
        return this.transport.sendSync();
      },
      terminated: () => {
        if (this.tracking && !this.transport.stopped) {
          if (this.pageHiding) this.transport.sendBeacon();
          else if (this.scoUnloading) this.transport.cut();
          // A final batch that fails now stays kept and is retried.
          else this.transport.sendSync();
        }
        if (!this.pageHiding && !this.scoUnloading && !this.busy) {
          // The SCO ended itself: the server applies its adl.nav.request.
          setTimeout(() => this.navigate("auto"), 0);
        }
      },
    };
  }

  stopped(reason) {
    const messages = {
      session_superseded: "This course was opened in another window or tab. What you do here is no longer saved.",
      session_ended: "This session has ended. What you do here is no longer saved.",
      invalid_session_token: "This session is no longer valid. Open the course again to keep saving your progress.",
    };
    this.say(messages[reason] || "Your progress is no longer saved.", true);
    this.renderControls();
  }

  // --- Timers and page life -------------------------------------------------------

  startTimers() {
    if (!this.tracking) return;
    setInterval(() => {
      if (!this.transport.stopped && this.transport.hasUnsent() && !this.pageHiding) this.transport.sendAsync();
    }, FLUSH_MS);
    const seconds = Number(this.config.heartbeat_seconds);
    if (seconds > 0) {
      setInterval(() => {
        if (document.visibilityState !== "visible" || this.transport.stopped || this.ended || !this.activityId) return;
        postJson(`/runtime/${this.token}/heartbeat`, { activity_id: this.activityId });
      }, seconds * 1000);
    }
  }

  watchPage() {
    window.addEventListener("pagehide", () => {
      this.pageHiding = true;
      this.transport.sendBeacon();
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.pageHiding = false;
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.transport.sendBeacon();
    });
  }

  // --- Rendering ---------------------------------------------------------------------

  bindControls() {
    for (const button of this.element("ac-controls").querySelectorAll("button[data-request]")) {
      button.addEventListener("click", () => this.navigate(button.dataset.request));
    }
    const toggle = this.element("ac-toc-toggle");
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      this.element("ac-toc").hidden = !open;
    });
  }

  renderControls() {
    const controls = (this.nav && this.nav.controls) || {};
    for (const button of this.element("ac-controls").querySelectorAll("button[data-request]")) {
      const state = this.ended ? "hidden" : controls[button.dataset.request] || "hidden";
      button.hidden = state === "hidden";
      button.disabled = state === "disabled" || this.busy;
    }
  }

  renderToc(items) {
    const list = this.element("ac-toc-list");
    list.replaceChildren();
    const visible = items.filter((item) => !item.hidden);
    for (const item of visible) {
      const li = document.createElement("li");
      li.className = "ac-toc-item";
      li.dataset.id = item.id;
      li.style.setProperty("--depth", String(item.depth || 1));
      // A disabled activity (a rule or a limit holds) shows as a button
      // that cannot be pressed, not as plain text like a heading: the
      // sequencer never offers it as selectable, yet the learner should see
      // that it exists and is locked.
      const entry = document.createElement(item.selectable === false && !item.disabled ? "span" : "button");
      if (entry.tagName === "BUTTON") {
        entry.type = "button";
        entry.disabled = Boolean(item.disabled) || item.selectable === false;
        entry.addEventListener("click", () => this.navigate("choice", item.id));
      }
      if (item.current) entry.setAttribute("aria-current", "step");
      const mark = document.createElement("span");
      mark.className = "ac-toc-mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = item.completed ? "✓" : "";
      const title = document.createElement("span");
      title.textContent = item.title;
      entry.append(mark, title);
      const states = [];
      if (item.completed) states.push(LABELS.completed);
      if (item.satisfied === true) states.push(LABELS.passed);
      if (item.satisfied === false) states.push(LABELS.failed);
      if (states.length) {
        const note = document.createElement("span");
        note.className = "ac-visually-hidden";
        note.textContent = ` (${states.join(", ")})`;
        entry.append(note);
      }
      li.append(entry);
      list.append(li);
    }
    const show = visible.length > 0;
    const toggle = this.element("ac-toc-toggle");
    toggle.hidden = !show;
    this.element("ac-toc").hidden = !show || toggle.getAttribute("aria-expanded") !== "true";
  }

  say(text, alert = false) {
    const message = this.element("ac-message");
    message.setAttribute("role", alert ? "alert" : "status");
    message.textContent = text;
    message.hidden = false;
  }

  clearMessage() {
    const message = this.element("ac-message");
    message.textContent = "";
    message.hidden = true;
  }

  fail(text) {
    this.element("ac-loading").hidden = true;
    this.say(text, true);
  }
}

const config = JSON.parse(document.getElementById("ac-config").textContent);
const player = new Player(config);
player.start();
