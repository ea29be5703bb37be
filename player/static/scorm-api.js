// The object a SCO finds as `window.API` (SCORM 1.2) or `window.API_1484_11`
// (SCORM 2004): the eight functions under the version's names, taking and
// returning strings, answered by a `ScormRuntime`.
//
// `Commit` and `Terminate` need the host: `host.persist()` must deliver
// everything recorded so far and say whether the server has it; when it
// cannot, the call fails with the version's host-failure code (2004: 391
// for Commit, 111 for Terminate; 1.2: 101) and a failed Terminate leaves
// the session running, so the SCO may try again. After a successful
// Terminate, `host.terminated()` delivers the final batch.

const text = (value) => (value === undefined || value === null ? "" : String(value));
const bool = (ok) => (ok ? "true" : "false");

/** Runs `call` as a host failure when `persisted` is false. */
function withHost(runtime, persisted, call) {
  if (persisted) return call();
  runtime.setHostFailure(true);
  try {
    return call();
  } finally {
    runtime.setHostFailure(false);
  }
}

export function createApi(runtime, host) {
  const names = runtime.model.json.functions;
  const api = {};
  api[names.Initialize] = (arg) => bool(runtime.initialize(text(arg)));
  api[names.Terminate] = (arg) => {
    const value = text(arg);
    // Only a call that would end the session involves the server.
    if (runtime.state !== "running" || value !== "") return bool(runtime.terminate(value));
    const ok = withHost(runtime, host.persist(), () => runtime.terminate(value));
    if (ok) host.terminated();
    return bool(ok);
  };
  api[names.Commit] = (arg) => {
    const value = text(arg);
    if (runtime.state !== "running" || value !== "") return bool(runtime.commit(value));
    return bool(withHost(runtime, host.persist(), () => runtime.commit(value)));
  };
  api[names.GetValue] = (element) => runtime.getValue(text(element));
  api[names.SetValue] = (element, value) => bool(runtime.setValue(text(element), text(value)));
  api[names.GetLastError] = () => runtime.getLastError();
  api[names.GetErrorString] = (code) => runtime.getErrorString(text(code));
  api[names.GetDiagnostic] = (code) => runtime.getDiagnostic(text(code));
  return api;
}
