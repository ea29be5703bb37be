// Checks the exported patterns in a JavaScript engine against the samples
// the Rust test checks (`domain/tests/cmi_js_model.rs`), with and without
// the `u` flag. Run with: node domain/tests/data/cmi/check_patterns.mjs
import { readFileSync } from "node:fs";

const here = new URL(".", import.meta.url);
const samples = JSON.parse(readFileSync(new URL("pattern_samples.json", here), "utf8"));
let failures = 0;
let checked = 0;
for (const file of ["js_model_1.2.json", "js_model_2004-2.json", "js_model_2004-3.json", "js_model_2004-4.json"]) {
  const model = JSON.parse(readFileSync(new URL(file, here), "utf8"));
  for (const [name, source] of Object.entries(model.patterns)) {
    const entry = samples[name];
    if (!entry) {
      console.error(`${file}: no samples for ${name}`);
      failures++;
      continue;
    }
    for (const flags of ["", "u"]) {
      const regex = new RegExp(source, flags);
      for (const [list, expected] of [[entry.match, true], [entry.reject, false]]) {
        for (const sample of list) {
          checked++;
          if (regex.test(sample) !== expected) {
            console.error(`${file} ${name} /${flags}: ${JSON.stringify(sample)} should ${expected ? "" : "not "}match`);
            failures++;
          }
        }
      }
    }
  }
}
console.log(`${checked} checks, ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);
