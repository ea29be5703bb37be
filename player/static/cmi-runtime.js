// The run-time API state machine for one SCO attempt: the port of
// `domain::cmi::session::RuntimeSession` and of the name resolution in
// `domain::cmi::model`, driven by the tables `domain::cmi::js_model` exports.
//
// `new ScormRuntime(model, context)` takes the exported model of the
// content's version and the launch context (the JSON of
// `domain::cmi::LaunchContext`), and answers the eight API functions with
// the codes of that version. What cannot come from the tables (entry and
// exit, the statuses and times settled at `Terminate`, suspend data limits)
// follows the Rust code line by line; `domain/tests/data/cmi/cases.json` is
// the proof that both agree.
//
// Nothing here reads a clock, does I/O or touches the DOM, unless the host
// passes a `clock` to stamp recorded calls.

import { IsoDuration, Timespan12 } from "./cmi-time.js";
import { Validators, debugString, longerThan, truncateChars } from "./cmi-types.js";

/** The `Display` text of each rule (`domain::cmi::CmiError`), for `GetDiagnostic`. */
const MESSAGES = {
  General: "the runtime failed unexpectedly",
  AlreadyInitialized: "the session is already initialized",
  InitializeAfterTerminate: "the content instance is terminated",
  InitializationFailed: "the host could not initialize the session",
  TerminationFailed: "the host could not terminate the session",
  TerminateBeforeInitialize: "terminate called before initialize",
  TerminateAfterTerminate: "terminate called after terminate",
  GetBeforeInitialize: "get value called before initialize",
  GetAfterTerminate: "get value called after terminate",
  SetBeforeInitialize: "set value called before initialize",
  SetAfterTerminate: "set value called after terminate",
  CommitBeforeInitialize: "commit called before initialize",
  CommitAfterTerminate: "commit called after terminate",
  CommitFailed: "the host could not commit the data",
  NonEmptyArgument: "the argument must be an empty string",
  GetWithoutElement: "no element was named",
  SetWithoutElement: "no element was named",
  UndefinedElement: "the element is not defined by the data model",
  UnknownChild: "the element is not defined in its category",
  NoChildren: "the element has no children",
  NoCount: "the element is not a collection and has no count",
  NoVersion: "only cmi has a version",
  KeywordIsReadOnly: "keywords are read only",
  ReadOnly: "the element is read only",
  WriteOnly: "the element is write only",
  NotImplemented: "the element is not implemented",
  NotInitialized: "the element has no value yet",
  TypeMismatch: "the value does not have the element's type",
  OutOfRange: "the value is out of range",
  DependencyNotEstablished: "a prerequisite element is not set",
  IndexOutOfRange: "the index is beyond the collection's count",
  IndexOutOfOrder: "the index skips records",
  NotUnique: "the value is not unique",
  IdentifierOverwrite: "the identifier is already set to another value",
  CollectionFull: "the collection is full",
  NotAppendable: "the collection cannot be appended to",
  MissingTarget: "the request needs a target",
  ValueTooLong: "the value is longer than the host allows",
  TooManyRecords: "the collection holds as many records as the host allows",
};

/** The rules that mean the host failed (`set_host_failure`), not the content. */
const HOST_FAILURES = ["InitializationFailed", "CommitFailed", "TerminationFailed"];

/** The API functions by their SCORM 2004 names, and the SCORM 1.2 aliases. */
const FUNCTION_ALIASES = {
  LMSInitialize: "Initialize",
  LMSFinish: "Terminate",
  LMSCommit: "Commit",
  LMSGetValue: "GetValue",
  LMSSetValue: "SetValue",
  LMSGetLastError: "GetLastError",
  LMSGetErrorString: "GetErrorString",
  LMSGetDiagnostic: "GetDiagnostic",
};

/** Why a launch context cannot start a session (`domain::cmi::LaunchError`). */
export class LaunchError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = "LaunchError";
    this.kind = kind;
  }
}

/** A refusal inside the session: the rule, and text for `GetDiagnostic`. */
class Fail {
  constructor(rule, detail = "") {
    this.rule = rule;
    this.detail = detail;
  }
}

const fail = (rule, detail) => {
  throw new Fail(rule, detail);
};

/** The names of the launch-provided and LMS-kept elements of a family. */
const NAMES = {
  scorm12: {
    learnerId: "cmi.core.student_id",
    learnerName: "cmi.core.student_name",
    credit: "cmi.core.credit",
    mode: "cmi.core.lesson_mode",
    entry: "cmi.core.entry",
    exit: "cmi.core.exit",
    sessionTime: "cmi.core.session_time",
    totalTime: "cmi.core.total_time",
    launchData: "cmi.launch_data",
    maxTimeAllowed: "cmi.student_data.max_time_allowed",
    timeLimitAction: "cmi.student_data.time_limit_action",
    suspendData: "cmi.suspend_data",
    location: "cmi.core.lesson_location",
    preferences: "cmi.student_preference",
  },
  scorm2004: {
    learnerId: "cmi.learner_id",
    learnerName: "cmi.learner_name",
    credit: "cmi.credit",
    mode: "cmi.mode",
    entry: "cmi.entry",
    exit: "cmi.exit",
    sessionTime: "cmi.session_time",
    totalTime: "cmi.total_time",
    launchData: "cmi.launch_data",
    maxTimeAllowed: "cmi.max_time_allowed",
    timeLimitAction: "cmi.time_limit_action",
    suspendData: "cmi.suspend_data",
    location: "cmi.location",
    preferences: "cmi.learner_preference",
  },
};

/** Replaces each `n` segment of `path` with the next index. */
export function instantiate(path, indices) {
  let next = 0;
  return path
    .split(".")
    .map((segment) => (segment === "n" ? (next < indices.length ? String(indices[next++]) : "n") : segment))
    .join(".");
}

/** The number of `n` segments in a path. */
function depth(path) {
  return path.split(".").filter((segment) => segment === "n").length;
}

/** The collections a path runs through, outermost first. */
function collectionsAlong(path) {
  const segments = path.split(".");
  const found = [];
  for (let i = 1; i < segments.length; i++) {
    if (segments[i] === "n") found.push(segments.slice(0, i).join("."));
  }
  return found;
}

/** Reads a number the validators accepted. */
function number(text) {
  return Number(text);
}

/** The element tables of one exported model, and name resolution. */
export class Model {
  constructor(json) {
    this.json = json;
    this.version = json.version;
    this.family = json.family;
    this.fourthEdition = json.version === "2004-4";
    this.elements = new Map(json.elements.map((e) => [e.path, e]));
    this.groups = new Map(json.groups.map((g) => [g.path, g]));
    this.collections = new Map(json.collections.map((c) => [c.path, c]));
    this.validators = new Validators(json);
    this.codes = json.rules;
    this.errorStrings = new Map(json.errors.map((e) => [e.code, e.string]));
  }

  knows(path) {
    return this.elements.has(path) || this.collections.has(path) || this.groups.has(path);
  }

  /**
   * Parses an element name into what it addresses, without looking at any
   * data; throws a `Fail` with the rule broken.
   */
  resolve(name) {
    const navTarget = this.resolveNavTarget(name);
    if (navTarget) return navTarget;
    const normalized = [];
    const indices = [];
    for (const segment of name.split(".")) {
      const soFar = normalized.join(".");
      const isIndex = soFar !== "" && this.collections.has(soFar) && this.validators.matches("index", segment);
      if (isIndex) {
        normalized.push("n");
        indices.push(Number(segment));
      } else {
        normalized.push(segment);
      }
    }
    const keyword = normalized[normalized.length - 1];
    const owner = normalized.slice(0, -1).join(".");
    switch (keyword) {
      case "_version":
        if (name === "cmi._version") return { kind: "version" };
        if (this.knows(owner)) fail("NoVersion");
        return fail(this.undefinedRule(normalized));
      case "_children": {
        const holder = this.groups.get(owner) || this.collections.get(owner);
        if (holder) {
          if (holder.children === null || holder.children === undefined) fail("NoChildren");
          return { kind: "children", children: holder.children };
        }
        if (this.knows(owner)) fail("NoChildren");
        return fail(this.undefinedRule(normalized));
      }
      case "_count": {
        const collection = this.collections.get(owner);
        if (collection) return { kind: "count", collection, indices };
        if (this.knows(owner)) fail("NoCount");
        return fail(this.undefinedRule(normalized));
      }
      default: {
        const element = this.elements.get(normalized.join("."));
        if (element) return { kind: "leaf", element, indices };
        return fail(this.undefinedRule(normalized));
      }
    }
  }

  /** `adl.nav.request_valid.choice.{target=…}`: read before splitting, a target may hold dots. */
  resolveNavTarget(name) {
    for (const path of ["adl.nav.request_valid.choice", "adl.nav.request_valid.jump"]) {
      if (!name.startsWith(`${path}.`)) continue;
      const element = this.elements.get(path);
      if (!element) continue;
      const argument = name.slice(path.length + 1);
      if (!argument.startsWith("{")) return null;
      let target = null;
      if (argument.startsWith("{target=") && argument.endsWith("}") && argument.length >= "{target=}".length) {
        target = argument.slice("{target=".length, -1);
      }
      if (target === null || target === "" || !this.validators.matches("uri", target)) fail("MissingTarget");
      return { kind: "navTarget", element, target };
    }
    return null;
  }

  /** SCORM 1.2 tells an unknown category (401) from an unknown name inside a known one (201). */
  undefinedRule(normalized) {
    if (this.family === "scorm2004") return "UndefinedElement";
    let categoryKnown = false;
    if (normalized.length === 1 && normalized[0] === "cmi") categoryKnown = true;
    else if (normalized.length >= 2 && normalized[0] === "cmi") categoryKnown = this.knows(`cmi.${normalized[1]}`);
    return categoryKnown ? "UnknownChild" : "UndefinedElement";
  }

  code(rule) {
    const code = this.codes[rule];
    if (code === undefined) throw new Error(`unknown rule ${rule}`);
    return code;
  }

  errorString(code) {
    return this.errorStrings.get(code) ?? "";
  }
}

/**
 * The run-time API for one SCO attempt.
 *
 * Options:
 * - `record`: `"changes"` (the default, as the Rust session: every
 *   `Initialize`, `Terminate`, `Commit` and `SetValue`, and every failed
 *   `GetValue`), `"all"` (every call, the player's audit trail) or
 *   `"none"` (a preview, which sends nothing);
 * - `clock`: a function returning the ISO time to stamp each recorded call
 *   with (`at`).
 */
export class ScormRuntime {
  constructor(model, context, options = {}) {
    this.model = model instanceof Model ? model : new Model(model);
    const m = this.model;
    this.version = m.version;
    this.family = m.family;
    this.names = NAMES[m.family];
    this.recordAll = options.record === "all";
    this.recordNone = options.record === "none";
    this.clock = options.clock || null;
    const ctx = normalizeContext(context, m);
    this.credit = ctx.credit;
    this.mode = ctx.mode;
    this.policy = ctx.scorm12;
    this.masteryScore = ctx.mastery_score;
    this.completionThreshold = ctx.completion_threshold;
    this.scaledPassingScore = ctx.scaled_passing_score;
    this.maxTimeAllowed = ctx.max_time_allowed;
    const suspendSpm = m.family === "scorm12" ? 4096 : m.json.limits.suspend_data_spm;
    this.suspendDataLimit = atLeast(ctx.suspend_data_limit, suspendSpm, this.names.suspendData);
    this.valueLimit = atLeast(ctx.value_limit ?? m.json.limits.default_value_limit, 64000, "value_limit");
    this.recordsLimit = atLeast(ctx.records_limit ?? m.json.limits.default_records_limit, 250, "records_limit");
    this.launch = this.launchValues(ctx);
    this.shared = this.sharedData(ctx);
    const { data, entry } = this.restore(ctx);
    this.data = data;
    this.addManifestObjectives(ctx.objective_ids, ctx.objective_status);
    for (const [name, value] of Object.entries(ctx.learner_preferences)) {
      const path = `${this.names.preferences}.${name}`;
      if (!m.elements.has(path)) throw new LaunchError("UnknownPreference", `unknown learner preference ${debugString(name)}`);
      this.check(path, value);
      this.data.values.set(path, value);
    }
    this.launch.values.set(this.names.entry, entry);
    this.entry = entry;
    this.navValidity = ctx.nav_validity;
    this.state = "not_initialized";
    this.last = { rule: null, diagnostic: "" };
    this.calls = [];
    this.nextSeq = 0;
    this.hostFailure = false;
  }

  // --- The host's side -------------------------------------------------

  /** The data to persist, as `domain::cmi::RuntimeData` writes it. */
  runtimeData() {
    return {
      version: this.version,
      values: Object.fromEntries([...this.data.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      counts: Object.fromEntries([...this.data.counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    };
  }

  /** The shared data buckets with the SCO's writes applied. */
  sharedBuckets() {
    return this.shared.map((bucket) => ({ ...bucket }));
  }

  /** Removes and returns the calls recorded so far (their `seq` keeps counting). */
  takeCalls() {
    const calls = this.calls;
    this.calls = [];
    return calls;
  }

  /** Replaces what `adl.nav.request_valid.*` reports (`{continue, previous, choice, jump}`). */
  setNavValidity(validity) {
    this.navValidity = normalizeNavValidity(validity);
  }

  /**
   * Makes the host-dependent steps fail (`Initialize` → 102, `Commit` → 391,
   * `Terminate` → 111; 101 in SCORM 1.2). A failed `Terminate` leaves the
   * session running.
   */
  setHostFailure(failing) {
    this.hostFailure = failing;
  }

  /** `adl.nav.request` as last set (`_none_` by default); null in SCORM 1.2. */
  navRequest() {
    if (this.family === "scorm12") return null;
    return this.data.values.get("adl.nav.request") ?? "_none_";
  }

  // --- The eight API functions ------------------------------------------

  initialize(arg = "") {
    return this.finishCall({ fn: "Initialize", arg }, () => this.initializeInner(arg), "true", true) !== null;
  }

  terminate(arg = "") {
    return this.finishCall({ fn: "Terminate", arg }, () => this.terminateInner(arg), "true", true) !== null;
  }

  commit(arg = "") {
    return this.finishCall({ fn: "Commit", arg }, () => this.commitInner(arg), "true", true) !== null;
  }

  /** Returns the value, or `""` after an error. */
  getValue(element) {
    let value = "";
    this.finishCall(
      { fn: "GetValue", element },
      () => {
        value = this.getInner(element);
        return false;
      },
      () => value,
      false,
    );
    return value;
  }

  setValue(element, value) {
    return this.finishCall({ fn: "SetValue", element, value }, () => this.setInner(element, value), "true", true) !== null;
  }

  getLastError() {
    const result = String(this.lastCode());
    this.recordQuery({ fn: "GetLastError" }, result);
    return result;
  }

  getErrorString(code) {
    const result = this.model.errorString(code);
    this.recordQuery({ fn: "GetErrorString", arg: code }, result);
    return result;
  }

  getDiagnostic(code) {
    const current = String(this.lastCode());
    let text;
    if ((code === "" || code === current) && this.last.rule !== null) text = this.last.diagnostic;
    else if (code === "") text = this.model.errorString("0");
    else text = this.model.errorString(code);
    const result = truncateChars(text, 255);
    this.recordQuery({ fn: "GetDiagnostic", arg: code }, result);
    return result;
  }

  /**
   * Runs one call given as in `cases.json` or a recorded call (`{fn, arg?,
   * element?, value?}`, 2004 or `LMS…` names) and returns what the content
   * sees: `{result, error}`.
   */
  apply(call) {
    const fn = FUNCTION_ALIASES[call.fn] || call.fn;
    const bool = (ok) => (ok ? "true" : "false");
    let result;
    switch (fn) {
      case "Initialize":
        result = bool(this.initialize(call.arg ?? ""));
        break;
      case "Terminate":
        result = bool(this.terminate(call.arg ?? ""));
        break;
      case "Commit":
        result = bool(this.commit(call.arg ?? ""));
        break;
      case "GetValue":
        result = this.getValue(call.element);
        break;
      case "SetValue":
        result = bool(this.setValue(call.element, call.value));
        break;
      case "GetLastError":
        result = this.getLastError();
        break;
      case "GetErrorString":
        result = this.getErrorString(call.arg ?? "");
        break;
      case "GetDiagnostic":
        result = this.getDiagnostic(call.arg ?? "");
        break;
      default:
        throw new Error(`unknown api function ${call.fn}`);
    }
    return { result, error: String(this.lastCode()) };
  }

  // --- Internals ---------------------------------------------------------

  lastCode() {
    return this.last.rule === null ? 0 : this.model.code(this.last.rule);
  }

  /**
   * Records a call that reads the error state (only with `record: "all"`);
   * it leaves that state as it was, so its `error` is the current code.
   */
  recordQuery(call, result) {
    if (this.recordAll) this.record(call, result, this.lastCode(), null, false);
  }

  record(call, result, error, diagnostic, spmExceeded) {
    if (this.recordNone) return;
    const recorded = { seq: this.nextSeq, ...call, result, error };
    if (diagnostic !== null) recorded.diagnostic = diagnostic;
    if (spmExceeded) recorded.spm_exceeded = true;
    if (this.clock) recorded.at = this.clock();
    this.calls.push(recorded);
    this.nextSeq += 1;
  }

  /**
   * Runs `inner`, sets the error state and records the call. Returns the
   * result (null on failure); `successResult` may be a function.
   */
  finishCall(call, inner, successResult, recordSuccess) {
    let spmExceeded = false;
    let failure = null;
    try {
      spmExceeded = inner();
    } catch (error) {
      if (!(error instanceof Fail)) {
        // A bug of this runtime must not break the content: it sees 101.
        console.error("allureconnect runtime:", error);
        failure = new Fail("General", String(error && error.message ? error.message : error));
      } else {
        failure = error;
      }
    }
    if (failure === null) {
      const result = typeof successResult === "function" ? successResult() : successResult;
      this.last = { rule: null, diagnostic: "" };
      if (recordSuccess || this.recordAll) this.record(call, result, 0, null, spmExceeded);
      return result;
    }
    const name = call.fn === "GetValue" || call.fn === "SetValue" ? `${call.element}: ` : "";
    const detail = failure.detail === "" ? "" : ` (${failure.detail})`;
    const diagnostic = truncateChars(`${name}${MESSAGES[failure.rule]}${detail}`, 255);
    this.last = { rule: failure.rule, diagnostic };
    const result = call.fn === "GetValue" ? "" : "false";
    this.record(call, result, this.model.code(failure.rule), diagnostic, false);
    if (HOST_FAILURES.includes(failure.rule) && !this.recordNone && this.calls.length > 0) {
      // The host, not the data, failed this call: a replay must not expect it.
      this.calls[this.calls.length - 1].host_failure = true;
    }
    return null;
  }

  initializeInner(arg) {
    if (this.state === "terminated") fail("InitializeAfterTerminate");
    if (arg !== "") fail("NonEmptyArgument", `got ${debugString(arg)}`);
    if (this.state === "running") fail("AlreadyInitialized");
    if (this.hostFailure) fail("InitializationFailed");
    this.state = "running";
    return false;
  }

  terminateInner(arg) {
    if (this.state === "terminated") fail("TerminateAfterTerminate");
    if (this.state === "not_initialized") fail("TerminateBeforeInitialize");
    if (arg !== "") fail("NonEmptyArgument", `got ${debugString(arg)}`);
    if (this.hostFailure) fail("TerminationFailed");
    if (this.family === "scorm12") this.finishScorm12();
    else this.finishScorm2004();
    this.state = "terminated";
    return false;
  }

  commitInner(arg) {
    if (this.state === "terminated") fail("CommitAfterTerminate");
    if (arg !== "") fail("NonEmptyArgument", `got ${debugString(arg)}`);
    if (this.state === "not_initialized") fail("CommitBeforeInitialize");
    if (this.hostFailure) fail("CommitFailed");
    return false;
  }

  getInner(name) {
    if (this.state === "terminated") fail("GetAfterTerminate");
    if (this.state === "not_initialized") {
      // ADL's sample RTE answers `GetValue("")` before looking at the state.
      if (name === "" && this.family === "scorm2004") fail("GetWithoutElement");
      fail("GetBeforeInitialize");
    }
    if (name === "") fail("GetWithoutElement");
    const address = this.model.resolve(name);
    switch (address.kind) {
      case "version":
        return this.model.json.data_model_version;
      case "children":
        return address.children;
      case "count": {
        this.checkReadIndices(address.collection.path, address.indices);
        const key = instantiate(address.collection.path, address.indices);
        return String(this.countOf(address.collection, key));
      }
      case "navTarget": {
        const map = address.element.path.endsWith("jump") ? this.navValidity.jump : this.navValidity.choice;
        return Object.hasOwn(map, address.target) ? map[address.target] : "unknown";
      }
      default:
        return this.readLeaf(address.element, address.indices);
    }
  }

  readLeaf(element, indices) {
    this.checkReadIndices(element.path, indices);
    if (element.access === "wo") fail("WriteOnly");
    const key = instantiate(element.path, indices);
    if (element.source === "navigation") {
      const last = element.path.split(".").pop();
      if (last === "continue") return this.navValidity.continue;
      if (last === "previous") return this.navValidity.previous;
      fail("MissingTarget", "use .{target=ID}");
    }
    if (element.source === "shared_data") {
      const bucket = this.shared[indices[0]];
      if (element.path.endsWith(".id")) return bucket.id;
      if (!bucket.readable) fail("WriteOnly", "readSharedData is false");
      if (bucket.store === null || bucket.store === undefined) fail("NotInitialized");
      return bucket.store;
    }
    if (this.family === "scorm2004") {
      if (element.path === "cmi.completion_status") return this.evaluatedCompletion();
      if (element.path === "cmi.success_status") return this.evaluatedSuccess();
    }
    const stored = element.source === "launch" ? this.launch.values.get(key) : this.data.values.get(key);
    if (stored !== undefined) return stored;
    if (element.default !== null && element.default !== undefined) return element.default;
    return fail("NotInitialized");
  }

  /** Every record `path` (an element or a collection) sits in must exist. */
  checkReadIndices(path, indices) {
    collectionsAlong(path).forEach((outer, level) => {
      const key = instantiate(outer, indices.slice(0, level));
      const count = this.countOf(this.model.collections.get(outer), key);
      if (indices[level] >= count) fail("IndexOutOfRange", `${key} has ${count} records`);
    });
  }

  countOf(collection, key) {
    switch (collection.source) {
      case "launch":
        return this.launch.counts.get(key) ?? 0;
      case "shared_data":
        return this.shared.length;
      default:
        return this.data.counts.get(key) ?? 0;
    }
  }

  setInner(name, value) {
    if (this.state === "terminated") fail("SetAfterTerminate");
    if (this.state === "not_initialized") fail("SetBeforeInitialize");
    if (name === "") fail("SetWithoutElement");
    let address;
    try {
      address = this.model.resolve(name);
    } catch (error) {
      if (error instanceof Fail) {
        // Every keyword is read-only, whether or not the element has it.
        if (["NoChildren", "NoCount", "NoVersion"].includes(error.rule)) fail("KeywordIsReadOnly");
        // `adl.nav.request_valid.choice.{…}` is read-only, target or not.
        if (error.rule === "MissingTarget") fail("ReadOnly");
      }
      throw error;
    }
    if (address.kind === "version" || address.kind === "children" || address.kind === "count") fail("KeywordIsReadOnly");
    if (address.kind === "navTarget") fail("ReadOnly");
    const { element, indices } = address;
    if (element.access === "ro") fail("ReadOnly");
    const write = this.checkWrite(element, indices, value);
    return this.applyWrite(element, indices, write, value);
  }

  /** Every check of `SetValue` after the name resolved to a writable element. */
  checkWrite(element, indices, value) {
    const m = this.model;
    const collections = collectionsAlong(element.path);
    const dependencyDepth = element.depends_on ? depth(element.depends_on) : null;
    const newRecords = [];
    let recordsAboveSpm = false;
    collections.forEach((collectionPath, level) => {
      const key = instantiate(collectionPath, indices.slice(0, level));
      const collection = m.collections.get(collectionPath);
      const count = newRecords.length === 0 ? this.countOf(collection, key) : 0;
      const index = indices[level];
      if (index > count) fail("IndexOutOfOrder", `${key} has ${count} records; the next is ${count}`);
      if (index === count) {
        if (collection.source !== "data") fail("NotAppendable", `${key} is provided by the lms`);
        const kind = this.interactionType(indices.slice(0, level));
        const rules = kind === null ? null : m.json.interaction_types[kind];
        if (collectionPath.endsWith("correct_responses") && rules && rules.patterns_max && count >= rules.patterns_spm) {
          fail("CollectionFull", `a ${kind} interaction has one correct response`);
        }
        if (count >= this.recordsLimit) fail("TooManyRecords", `${key} is limited to ${this.recordsLimit} records`);
        const spm = rules && collectionPath.endsWith("correct_responses") ? rules.patterns_spm : collection.spm;
        recordsAboveSpm = recordsAboveSpm || count >= spm;
        newRecords.push(key);
      }
      if (dependencyDepth === level + 1) this.checkDependency(element, indices, newRecords, level);
    });
    if (element.source === "shared_data" && !this.shared[indices[0]].writable) fail("ReadOnly", "writeSharedData is false");
    const key = instantiate(element.path, indices);
    this.checkUnique(element, indices, key, value, newRecords.length > 0);
    const responseType = element.type.kind === "learner_response" || element.type.kind === "correct_response_pattern";
    const context = {
      fourthEdition: m.fourthEdition,
      interactionType: responseType ? this.interactionType(indices.slice(0, 1)) : null,
    };
    const accepted = m.validators.validate(element.type, value, context);
    if (!accepted.ok) fail(accepted.error, accepted.reason);
    let limit = null;
    if (element.type.kind === "suspend_data_12" || element.type.kind === "suspend_data_2004") limit = this.suspendDataLimit;
    else if (this.family === "scorm2004") limit = this.valueLimit;
    if (limit !== null && longerThan(value, limit)) fail("ValueTooLong", `longer than the limit of ${limit} characters`);
    return { key, newRecords, spmExceeded: accepted.spm || recordsAboveSpm };
  }

  /** The prerequisite must hold a value; it cannot if it lives in a record this call creates. */
  checkDependency(element, indices, newRecords, level) {
    const dependencyKey = instantiate(element.depends_on, indices.slice(0, level + 1));
    if (newRecords.length > 0 || !this.data.values.has(dependencyKey)) {
      fail("DependencyNotEstablished", `${dependencyKey} must be set first`);
    }
  }

  /** Uniqueness within the innermost collection, and write-once ids. */
  checkUnique(element, indices, key, value, creating) {
    if (element.write_once && !creating && this.data.values.has(key)) {
      const current = this.data.values.get(key);
      if (current !== value) fail("IdentifierOverwrite", `already ${debugString(current)}`);
    }
    let rule = "none";
    if (element.type.kind === "correct_response_pattern") {
      const kind = this.interactionType(indices.slice(0, 1));
      rule = kind === null ? "none" : this.model.json.interaction_types[kind].unique_patterns;
    } else if (element.unique) {
      rule = "exact";
    }
    if (rule === "none") return;
    const collections = collectionsAlong(element.path);
    if (collections.length === 0) return;
    const innermost = indices.length - 1;
    const collectionKey = instantiate(collections[collections.length - 1], indices.slice(0, innermost));
    const count = this.data.counts.get(collectionKey) ?? 0;
    for (let other = 0; other < count; other++) {
      if (other === indices[innermost]) continue;
      const otherIndices = indices.slice();
      otherIndices[innermost] = other;
      const otherKey = instantiate(element.path, otherIndices);
      const existing = this.data.values.get(otherKey);
      if (existing !== undefined && this.model.validators.samePattern(rule, existing, value)) {
        fail("NotUnique", `${otherKey} already holds it`);
      }
    }
  }

  applyWrite(element, indices, write, value) {
    for (const collection of write.newRecords) {
      this.data.counts.set(collection, (this.data.counts.get(collection) ?? 0) + 1);
    }
    if (element.source === "shared_data") {
      this.shared[indices[0]].store = value;
      return write.spmExceeded;
    }
    if (element.path === "cmi.interactions.n.type" && this.family === "scorm2004") {
      const previous = this.data.values.get(write.key);
      if (previous !== undefined && previous !== value) this.clearResponses(indices[0]);
    }
    this.data.values.set(write.key, value);
    return write.spmExceeded;
  }

  /** A new interaction type invalidates the responses written for the old one. */
  clearResponses(interaction) {
    const prefix = `cmi.interactions.${interaction}.`;
    const responses = `${prefix}correct_responses`;
    this.data.values.delete(`${prefix}learner_response`);
    const patterns = this.data.counts.get(responses) ?? 0;
    this.data.counts.delete(responses);
    for (let index = 0; index < patterns; index++) this.data.values.delete(`${responses}.${index}.pattern`);
  }

  /** The SCORM 2004 type of the interaction at `indices[0]`, if set and known. */
  interactionType(indices) {
    if (this.family !== "scorm2004" || indices.length === 0) return null;
    const word = this.data.values.get(`cmi.interactions.${indices[0]}.type`);
    return word !== undefined && Object.hasOwn(this.model.json.interaction_types, word) ? word : null;
  }

  storedOrDefault(path) {
    const stored = this.data.values.get(path);
    if (stored !== undefined) return stored;
    const element = this.model.elements.get(path);
    return element && element.default !== null && element.default !== undefined ? element.default : "";
  }

  /** RTE 4th ed. §4.2.4: with a completion threshold, progress decides. */
  evaluatedCompletion() {
    if (this.completionThreshold === null) return this.storedOrDefault("cmi.completion_status");
    const progress = this.data.values.get("cmi.progress_measure");
    if (progress === undefined) return "unknown";
    return number(progress) >= number(this.completionThreshold) ? "completed" : "incomplete";
  }

  /** RTE 4th ed. §4.2.22: with a scaled passing score, the scaled score decides. */
  evaluatedSuccess() {
    if (this.scaledPassingScore === null) return this.storedOrDefault("cmi.success_status");
    const scaled = this.data.values.get("cmi.score.scaled");
    if (scaled === undefined) return "unknown";
    return number(scaled) >= number(this.scaledPassingScore) ? "passed" : "failed";
  }

  /** SCORM 2004 `Terminate`: suspendAll forces suspend, time adds up, statuses are stored. */
  finishScorm2004() {
    const values = this.data.values;
    const pattern = this.model.validators.patterns.duration;
    if (values.get("adl.nav.request") === "suspendAll") values.set("cmi.exit", "suspend");
    const session = values.get("cmi.session_time");
    if (session !== undefined) {
      const spent = IsoDuration.parse(session, pattern) || IsoDuration.zero();
      const total = IsoDuration.parse(this.storedOrDefault("cmi.total_time"), pattern) || IsoDuration.zero();
      values.set("cmi.total_time", total.add(spent).toString());
    }
    if (this.completionThreshold !== null) values.set("cmi.completion_status", this.evaluatedCompletion());
    if (this.scaledPassingScore !== null) values.set("cmi.success_status", this.evaluatedSuccess());
  }

  /** SCORM 1.2 `LMSFinish` (RTE 1.2 §3.4.4): time adds up, an untouched status is decided. */
  finishScorm12() {
    const values = this.data.values;
    const pattern = this.model.validators.patterns.timespan_12;
    const session = values.get("cmi.core.session_time");
    if (session !== undefined) {
      const spent = Timespan12.parse(session, pattern) || new Timespan12(0);
      const total = Timespan12.parse(this.storedOrDefault("cmi.core.total_time"), pattern) || new Timespan12(0);
      values.set("cmi.core.total_time", total.add(spent).toString());
    }
    const untouched = this.storedOrDefault("cmi.core.lesson_status") === "not attempted";
    const raw = values.get("cmi.core.score.raw");
    let judged = null;
    if (this.masteryScore !== null && raw !== undefined && raw !== "" && this.credit === "credit") {
      judged = number(raw) >= number(this.masteryScore) ? "passed" : "failed";
    }
    let status = null;
    if (this.mode === "browse" && untouched) status = "browsed";
    else if (this.mode === "normal" && untouched) status = judged ?? this.policy.unset_status_at_finish;
    else if (this.mode === "normal" && this.policy.mastery_override) status = judged;
    if (status !== null) values.set("cmi.core.lesson_status", status);
  }

  // --- Launch ---------------------------------------------------------------

  check(path, value) {
    const element = this.model.elements.get(path);
    const result = this.model.validators.validate(element.type, value, {
      fourthEdition: this.model.fourthEdition,
      interactionType: null,
    });
    if (!result.ok) {
      throw new LaunchError("InvalidValue", `launch value for ${path} is invalid: ${debugString(value)}`);
    }
  }

  launchValues(ctx) {
    const n = this.names;
    const values = new Map();
    const counts = new Map();
    const optional = [
      [n.launchData, ctx.launch_data],
      [n.maxTimeAllowed, ctx.max_time_allowed],
      [n.timeLimitAction, ctx.time_limit_action],
      ["cmi.student_data.mastery_score", ctx.mastery_score],
      ["cmi.scaled_passing_score", ctx.scaled_passing_score],
      ["cmi.completion_threshold", ctx.completion_threshold],
    ].filter(([, value]) => value !== null);
    for (const [name, value] of [...optional, [n.learnerId, ctx.learner_id], [n.learnerName, ctx.learner_name]]) {
      this.check(name, value);
      values.set(name, value);
    }
    values.set(n.credit, ctx.credit);
    values.set(n.mode, ctx.mode);
    if (ctx.comments_from_lms.length === 0) return { values, counts };
    if (this.family === "scorm12") {
      const joined = ctx.comments_from_lms.map((c) => c.comment).join("\n");
      this.check("cmi.comments_from_lms", joined);
      values.set("cmi.comments_from_lms", joined);
    } else {
      ctx.comments_from_lms.forEach((comment, index) => {
        for (const field of ["comment", "location", "timestamp"]) {
          const value = comment[field];
          if (value === null || value === undefined) continue;
          this.check(`cmi.comments_from_lms.n.${field}`, value);
          values.set(`cmi.comments_from_lms.${index}.${field}`, value);
        }
      });
      counts.set("cmi.comments_from_lms", ctx.comments_from_lms.length);
    }
    return { values, counts };
  }

  sharedData(ctx) {
    if (!this.model.fourthEdition) return [];
    const buckets = ctx.shared_data.map((bucket) => ({
      id: bucket.id,
      store: bucket.store ?? null,
      readable: bucket.readable ?? true,
      writable: bucket.writable ?? true,
    }));
    buckets.forEach((bucket, position) => {
      this.check("adl.data.n.id", bucket.id);
      if (buckets.slice(0, position).some((other) => other.id === bucket.id)) {
        throw new LaunchError("DuplicateId", `duplicate identifier ${debugString(bucket.id)} for adl.data`);
      }
    });
    return buckets;
  }

  /** Decides `entry` and the starting data from the prior data. */
  restore(ctx) {
    const n = this.names;
    const empty = () => ({ values: new Map(), counts: new Map() });
    const prior = ctx.prior;
    if (prior === null || prior === undefined) return { data: empty(), entry: "ab-initio" };
    const priorVersion = prior.version === "2004" ? "2004-4" : prior.version;
    if (priorVersion !== this.version) {
      throw new LaunchError("PriorVersionMismatch", `prior data is for scorm ${priorVersion}, the package is scorm ${this.version}`);
    }
    const values = new Map(Object.entries(prior.values || {}));
    const counts = new Map(Object.entries(prior.counts || {}));
    this.checkPrior(values, counts);
    const suspended = values.get(n.exit) === "suspend";
    let data;
    let entry;
    if (suspended) {
      data = { values, counts };
      entry = "resume";
    } else if (this.family === "scorm2004") {
      data = empty();
      entry = "ab-initio";
    } else {
      values.delete(n.suspendData);
      values.delete(n.location);
      data = { values, counts };
      entry = "";
    }
    data.values.delete(n.exit);
    data.values.delete(n.sessionTime);
    data.values.delete("adl.nav.request");
    return { data, entry };
  }

  /** Prior data must name elements that live in the data, in records its counts cover. */
  checkPrior(values, counts) {
    const m = this.model;
    const inconsistent = (key) => new LaunchError("PriorData", `prior data is inconsistent at ${key}`);
    const resolve = (name) => {
      try {
        return m.resolve(name);
      } catch (error) {
        if (error instanceof Fail) return null;
        throw error;
      }
    };
    for (const key of values.keys()) {
      const address = resolve(key);
      if (!address || address.kind !== "leaf") throw inconsistent(key);
      const { element, indices } = address;
      const lmsKept = element.path === "cmi.total_time" || element.path === "cmi.core.total_time";
      if (element.source !== "data" || (element.access === "ro" && !lmsKept)) throw inconsistent(key);
      collectionsAlong(element.path).forEach((collection, level) => {
        const collectionKey = instantiate(collection, indices.slice(0, level));
        if (indices[level] >= (counts.get(collectionKey) ?? 0)) throw inconsistent(key);
      });
    }
    for (const [key, count] of counts) {
      const address = resolve(`${key}._count`);
      if (!address || address.kind !== "count") throw inconsistent(key);
      if (address.collection.source !== "data" || count === 0) throw inconsistent(key);
    }
  }

  /**
   * Appends a `cmi.objectives` record for each manifest objective the data
   * lacks, with the starting values the launch gives for it (`seeds`, the
   * sequencer's `objective_status`).
   */
  addManifestObjectives(ids, seeds) {
    ids.forEach((id, position) => {
      this.check("cmi.objectives.n.id", id);
      if (ids.slice(0, position).includes(id)) {
        throw new LaunchError("DuplicateId", `duplicate identifier ${debugString(id)} for cmi.objectives`);
      }
      const count = this.data.counts.get("cmi.objectives") ?? 0;
      let present = false;
      for (let i = 0; i < count; i++) {
        if (this.data.values.get(`cmi.objectives.${i}.id`) === id) present = true;
      }
      if (!present) {
        this.data.values.set(`cmi.objectives.${count}.id`, id);
        this.data.counts.set("cmi.objectives", count + 1);
        const seed = seeds.find((s) => s.id === id);
        if (seed) {
          for (const [element, field] of OBJECTIVE_SEED_FIELDS) {
            const value = seed[field];
            if (value === undefined || value === null) continue;
            const path = `cmi.objectives.n.${element}`;
            if (!this.model.elements.has(path)) {
              throw new LaunchError("InvalidValue", `launch value for ${path} is invalid: ${debugString(value)}`);
            }
            this.check(path, value);
            this.data.values.set(`cmi.objectives.${count}.${element}`, value);
          }
        }
      }
    });
  }
}

/** The elements of a `cmi.objectives.n` record an `ObjectiveSeed` field starts, in order. */
const OBJECTIVE_SEED_FIELDS = [
  ["success_status", "success_status"],
  ["completion_status", "completion_status"],
  ["score.scaled", "score_scaled"],
  ["score.raw", "score_raw"],
  ["score.min", "score_min"],
  ["score.max", "score_max"],
  ["progress_measure", "progress_measure"],
];

function atLeast(limit, minimum, element) {
  if (limit === null || limit === undefined) return minimum;
  if (limit >= minimum) return limit;
  throw new LaunchError("LimitTooLow", `limit ${limit} for ${element} is below the required minimum ${minimum}`);
}

function normalizeNavValidity(validity) {
  const v = validity || {};
  return {
    continue: v.continue ?? "unknown",
    previous: v.previous ?? "unknown",
    choice: { ...(v.choice || {}) },
    jump: { ...(v.jump || {}) },
  };
}

/** The launch context with every default `serde` would fill in. */
function normalizeContext(context, model) {
  const version = context.version === "2004" ? "2004-4" : context.version;
  if (version !== model.version) {
    throw new LaunchError("VersionMismatch", `the launch is for scorm ${version}, the model for scorm ${model.version}`);
  }
  if (typeof context.learner_id !== "string" || typeof context.learner_name !== "string") {
    throw new LaunchError("InvalidValue", "the launch needs learner_id and learner_name");
  }
  // An empty manifest value means the manifest gave none.
  const manifest = (value) => (value === undefined || value === null || value === "" ? null : value);
  const ctx = {
    learner_id: context.learner_id,
    learner_name: context.learner_name,
    credit: context.credit ?? "credit",
    mode: context.mode ?? "normal",
    launch_data: context.launch_data ?? null,
    mastery_score: manifest(context.mastery_score),
    scaled_passing_score: manifest(context.scaled_passing_score),
    completion_threshold: manifest(context.completion_threshold),
    max_time_allowed: manifest(context.max_time_allowed),
    time_limit_action: manifest(context.time_limit_action),
    objective_ids: context.objective_ids ?? [],
    objective_status: context.objective_status ?? [],
    learner_preferences: context.learner_preferences ?? {},
    comments_from_lms: context.comments_from_lms ?? [],
    shared_data: context.shared_data ?? [],
    nav_validity: normalizeNavValidity(context.nav_validity),
    prior: context.prior ?? null,
    suspend_data_limit: context.suspend_data_limit ?? null,
    value_limit: context.value_limit ?? null,
    records_limit: context.records_limit ?? null,
    scorm12: {
      unset_status_at_finish: context.scorm12?.unset_status_at_finish ?? "completed",
      mastery_override: context.scorm12?.mastery_override ?? false,
    },
  };
  if (!["credit", "no-credit"].includes(ctx.credit)) throw new LaunchError("InvalidValue", `unknown credit ${ctx.credit}`);
  if (!["normal", "browse", "review"].includes(ctx.mode)) throw new LaunchError("InvalidValue", `unknown mode ${ctx.mode}`);
  if (model.family === "scorm12") {
    ctx.scaled_passing_score = null;
    ctx.completion_threshold = null;
  } else {
    ctx.mastery_score = null;
  }
  return ctx;
}
