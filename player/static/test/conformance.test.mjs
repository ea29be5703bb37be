// The conformance table in Node, for a quick loop while editing the runtime:
//   node --experimental-detect-module --test player/static/test/conformance.test.mjs
// (the flag only for Node before 22, which reads .js files as CommonJS).
// The browser test (cargo test -p e2e --test e2e browser) runs the same
// table in Chromium and is the one the suite relies on.

import { readFileSync } from "node:fs";
import { test } from "node:test";
import assert from "node:assert/strict";

import { runTable } from "./conformance.js";

const data = new URL("../../../domain/tests/data/cmi/", import.meta.url);
const read = (name) => JSON.parse(readFileSync(new URL(name, data), "utf8"));

test("every row of cases.json passes", () => {
  const models = {};
  for (const version of ["1.2", "2004-2", "2004-3", "2004-4"]) models[version] = read(`js_model_${version}.json`);
  const { total, failures } = runTable(read("cases.json"), models);
  const report = failures.map((f) => `${f.name}: ${f.problem}`).join("\n");
  assert.equal(failures.length, 0, `${failures.length} of ${total} rows failed:\n${report}`);
});
