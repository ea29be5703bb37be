// Runs the rows of `domain/tests/data/cmi/cases.json` against the
// JavaScript runtime, exactly as `domain/tests/cmi_cases.rs` runs them
// against the Rust one (the table's format is in the README next to it).
// Used by the browser test (tests/e2e/browser_cmi.rs) and by Node's test
// runner (conformance.test.mjs). Not served to learners.
//
// `recordTable` also returns what the runtime recorded for every row, so
// that the Rust runtime can replay the browser's calls and compare.

import { ScormRuntime } from "../cmi-runtime.js";

/** Replaces every `{"repeat": s, "times": n}` with `s` repeated `n` times. */
export function expand(value) {
  if (Array.isArray(value)) return value.map(expand);
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value);
    if (keys.length === 2 && "repeat" in value && "times" in value) return value.repeat.repeat(value.times);
    return Object.fromEntries(keys.map((key) => [key, expand(value[key])]));
  }
  return value;
}

/** Overlays `changes` on `launch`; a `null` removes the key. */
function merge(launch, changes) {
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete launch[key];
    else launch[key] = value;
  }
}

function abbreviate(text) {
  const chars = Array.from(text);
  return chars.length <= 60 ? text : `${chars.slice(0, 40).join("")}… (${chars.length} chars)`;
}

/** Why `outcome` does not meet `expect`, or null. */
function mismatch(outcome, expect) {
  if (outcome.error !== expect.error) return `error ${outcome.error} (expected ${expect.error})`;
  if ("result" in expect && outcome.result !== expect.result) {
    return `result ${JSON.stringify(abbreviate(outcome.result))} (expected ${JSON.stringify(abbreviate(expect.result))})`;
  }
  if (expect.result_not_empty === true) {
    const chars = Array.from(outcome.result).length;
    if (chars === 0 || chars > 255) return `result of ${chars} characters (expected 1..=255)`;
  }
  return null;
}

/** Runs one row; returns null or a description of the first disagreement. */
export function runRow(row, defaults, models) {
  const launch = { ...defaults, version: row.version };
  if (row.launch) merge(launch, row.launch);
  const model = models[row.version];
  let session = new ScormRuntime(model, launch);
  for (const [position, step] of row.setup.entries()) {
    if (step.fn === "Relaunch") {
      if (step.launch) merge(launch, step.launch);
      session = new ScormRuntime(model, { ...launch, prior: session.runtimeData() });
      continue;
    }
    const problem = mismatch(session.apply(step), step.expect ?? { error: "0" });
    if (problem) return `setup step ${position} (${step.fn}): ${problem}`;
  }
  return mismatch(session.apply(row.call), row.expect);
}

/**
 * Runs every row; `models` maps each version to its exported model.
 * Returns `{total, failures: [{name, problem}]}`; an exception in a row is
 * a failure of that row.
 */
export function runTable(table, models) {
  const expanded = expand(table);
  const failures = [];
  for (const row of expanded.cases) {
    let problem;
    try {
      problem = runRow(row, expanded.defaults, models);
    } catch (error) {
      problem = `exception: ${error && error.stack ? error.stack : error}`;
    }
    if (problem) failures.push({ name: row.name, problem });
  }
  return { total: expanded.cases.length, failures };
}

/**
 * Runs every row recording every call, as the player does, and returns for
 * each row its sessions: the launch context each started from, the calls
 * it recorded and the data it ended with (`runtimeData()`).
 */
export function recordTable(table, models) {
  const expanded = expand(table);
  return expanded.cases.map((row) => {
    const launch = { ...expanded.defaults, version: row.version };
    if (row.launch) merge(launch, row.launch);
    const model = models[row.version];
    const sessions = [];
    let context = { ...launch };
    let session = new ScormRuntime(model, context, { record: "all" });
    const close = () => sessions.push({ launch: context, calls: session.takeCalls(), data: session.runtimeData() });
    for (const step of row.setup) {
      if (step.fn === "Relaunch") {
        if (step.launch) merge(launch, step.launch);
        close();
        context = { ...launch, prior: session.runtimeData() };
        session = new ScormRuntime(model, context, { record: "all" });
      } else {
        session.apply(step);
      }
    }
    session.apply(row.call);
    close();
    return { name: row.name, sessions };
  });
}
