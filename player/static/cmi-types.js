// Value types of both data models: the port of `domain::cmi::types`.
//
// Each element's `type` in the exported model names an algorithm (`kind`)
// and carries its parameters (patterns by name, bounds, SPMs, words); the
// patterns are the very strings the Rust validator compiles. Lengths count
// Unicode scalar values, as Rust's `chars()` does.

import { IsoDuration } from "./cmi-time.js";

/** The number of Unicode code points in `text`. */
export function charCount(text) {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

/** True when `text` has more than `limit` code points. */
export function longerThan(text, limit) {
  // A code point is one or two UTF-16 units, so a short string is cheap.
  return text.length > limit && charCount(text) > limit;
}

/** `text` cut to its first `limit` code points. */
export function truncateChars(text, limit) {
  if (!longerThan(text, limit)) return text;
  return Array.from(text).slice(0, limit).join("");
}

/** What Rust's `{:?}` writes for a string, for diagnostic texts. */
export function debugString(text) {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\0") out += "\\0";
    else if (code < 0x20 || code === 0x7f) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

/** What Rust's `f64` `Display` writes for the bounds the model uses. */
function displayNumber(value) {
  return value === null || value === undefined ? "" : String(value);
}

const LIST = "[,]";
const PAIR = "[.]";
const RANGE = "[:]";

/** Splits at `separator`, which must occur exactly once; null otherwise. */
function splitOnceExactly(text, separator) {
  const at = text.indexOf(separator);
  if (at < 0) return null;
  const right = text.slice(at + separator.length);
  if (right.includes(separator)) return null;
  return [text.slice(0, at), right];
}

const accepted = (spm = false) => ({ ok: true, spm });
const mismatch = (reason) => ({ ok: false, error: "TypeMismatch", reason });
const outOfRange = (reason) => ({ ok: false, error: "OutOfRange", reason });

/** The validators of one model: its patterns compiled once. */
export class Validators {
  constructor(model) {
    this.patterns = {};
    for (const [name, source] of Object.entries(model.patterns)) {
      this.patterns[name] = new RegExp(source, "u");
    }
    this.separators = model.separators || { list: LIST, pair: PAIR, range: RANGE };
    this.interactionTypes = model.interaction_types || {};
    this.suspendDataSpm = model.limits.suspend_data_spm;
  }

  matches(name, text) {
    return this.patterns[name].test(text);
  }

  require(name, value, reason) {
    return this.matches(name, value) ? accepted() : mismatch(reason);
  }

  spm(value, limit) {
    return accepted(longerThan(value, limit));
  }

  /** Checks a string that matched a number pattern against inclusive bounds. */
  inRange(value, min, max) {
    const number = Number(value);
    if (Number.isNaN(number)) return mismatch("not a decimal number");
    const below = min !== null && min !== undefined && number < min;
    const above = max !== null && max !== undefined && number > max;
    if (below || above) return outOfRange(`outside ${displayNumber(min)}..${displayNumber(max)}`);
    return accepted();
  }

  realIn(value, min, max) {
    const format = this.require("decimal", value, "not a decimal number");
    return format.ok ? this.inRange(value, min, max) : format;
  }

  /** A SCORM 2004 identifier: non-empty, a URI reference, a whole URN when it starts like one. */
  identifier(value, spmChars) {
    if (value === "") return mismatch("an identifier cannot be empty");
    const uri = this.require("uri", value, "not a uri");
    if (!uri.ok) return uri;
    if (this.matches("urn_prefix", value)) {
      const urn = this.require("urn", value, "not a urn");
      if (!urn.ok) return urn;
    }
    return this.spm(value, spmChars);
  }

  /** A SCORM 2004 timestamp: the pattern, then the calendar and clock ranges. */
  timestamp(value) {
    const match = this.patterns.timestamp.exec(value);
    if (!match) return mismatch("not an iso 8601 timestamp");
    const g = match.groups;
    const field = (name) => (g[name] === undefined ? null : Number(g[name]));
    const year = field("year") ?? 0;
    if (year < 1970 || year > 2038) return mismatch("year outside 1970..2038");
    const month = field("month");
    if (month !== null) {
      if (month < 1 || month > 12) return mismatch("month outside 1..12");
      const day = field("day");
      if (day !== null && (day < 1 || day > daysInMonth(year, month))) {
        return mismatch("no such day in that month");
      }
    }
    const below = (name, limit) => field(name) === null || field(name) < limit;
    if (!(below("hour", 24) && below("minute", 60) && below("second", 60) && below("zone_hour", 24) && below("zone_minute", 60))) {
      return mismatch("time of day out of range");
    }
    return accepted();
  }

  duration(value) {
    return IsoDuration.parse(value, this.patterns.duration) ? accepted() : mismatch("not an iso 8601 duration");
  }

  navRequest(type, value, context) {
    if (type.words.includes(value)) return accepted();
    const match = this.patterns[type.pattern].exec(value);
    if (!match) return mismatch("not a navigation request");
    if (match.groups.request === "jump" && !context.fourthEdition) {
      return mismatch("jump requests need scorm 2004 4th edition");
    }
    const target = this.identifier(match.groups.target, 4000);
    return target.ok ? target : mismatch(`target: ${target.reason}`);
  }

  /**
   * Reads the leading `{name=value}` delimiters of `value` that are in
   * `allowed`, validating each; stops at the first unknown or repeated one.
   * Returns `{ok, text}` or a refusal.
   */
  stripDelimiters(value, allowed) {
    const seen = [];
    let rest = value;
    while (rest.startsWith("{")) {
      const inner = rest.slice(1);
      const close = inner.indexOf("}");
      if (close < 0) break;
      const body = inner.slice(0, close);
      const equals = body.indexOf("=");
      if (equals < 0) break;
      const name = body.slice(0, equals);
      const delimiterValue = body.slice(equals + 1);
      if (!allowed.includes(name) || seen.includes(name)) break;
      const valid = this.delimiterValid(name, delimiterValue);
      if (!valid.ok) return valid;
      seen.push(name);
      rest = inner.slice(close + 1);
    }
    return { ok: true, text: rest };
  }

  delimiterValid(name, value) {
    const ok = name === "lang" ? this.matches("language", value) : value === "true" || value === "false";
    return ok ? accepted() : mismatch(`invalid {${name}=${value}}`);
  }

  /** One item of a SCORM 2004 interaction response. */
  item(format, item, itemSpm) {
    switch (format) {
      case "boolean":
        return item === "true" || item === "false" ? accepted() : mismatch("not true or false");
      case "identifier":
        return this.identifier(item, itemSpm);
      case "localized_text": {
        let text = item;
        if (item.startsWith("{lang=")) {
          const rest = item.slice("{lang=".length);
          const close = rest.indexOf("}");
          if (close >= 0) {
            const valid = this.delimiterValid("lang", rest.slice(0, close));
            if (!valid.ok) return valid;
            text = rest.slice(close + 1);
          }
        }
        return this.spm(text, itemSpm);
      }
      case "text":
        return this.spm(item, itemSpm);
      case "matching_pair": {
        const pair = splitOnceExactly(item, this.separators.pair);
        if (!pair) return mismatch("a matching pair needs exactly one [.]");
        const source = this.identifier(pair[0], 250);
        if (!source.ok) return source;
        const target = this.identifier(pair[1], 250);
        if (!target.ok) return target;
        return accepted(source.spm || target.spm);
      }
      case "performance_step": {
        const step = splitOnceExactly(item, this.separators.pair);
        if (!step) return mismatch("a performance step needs exactly one [.]");
        const [name, answer] = step;
        if (name === "" && answer === "") return mismatch("a performance step needs a name or an answer");
        let result = accepted();
        if (name !== "") {
          result = this.identifier(name, 250);
          if (!result.ok) return result;
        }
        const answerResult = answer.includes(this.separators.range)
          ? this.item("numeric_range", answer, null)
          : this.spm(answer, 250);
        if (!answerResult.ok) return answerResult;
        return accepted(result.spm || answerResult.spm);
      }
      case "real":
        return this.require("decimal", item, "not a decimal number");
      case "numeric_range": {
        const range = splitOnceExactly(item, this.separators.range);
        if (!range) return mismatch("a numeric range needs exactly one [:]");
        const bounds = [];
        for (const text of range) {
          if (text === "") {
            bounds.push(null);
            continue;
          }
          if (!this.matches("decimal", text)) return mismatch("a range bound is not a number");
          bounds.push(Number(text));
        }
        if (bounds[0] !== null && bounds[1] !== null && bounds[0] > bounds[1]) {
          return mismatch("the range minimum exceeds its maximum");
        }
        return accepted();
      }
      default:
        throw new Error(`unknown response item format ${format}`);
    }
  }

  /** A learner response or correct response pattern against its format. */
  response(format, value) {
    const stripped = this.stripDelimiters(value, format.delimiters);
    if (!stripped.ok) return stripped;
    const text = stripped.text;
    if (text === "") return format.allow_empty ? accepted() : mismatch("the response cannot be empty");
    const items = format.list ? text.split(this.separators.list) : [text];
    let spm = format.items_spm !== null && format.items_spm !== undefined && items.length > format.items_spm;
    for (let position = 0; position < items.length; position++) {
      const item = items[position];
      if (format.unique_items && items.slice(0, position).includes(item)) {
        return mismatch(`item ${debugString(item)} is repeated`);
      }
      if (item === "" && !format.empty_items) return mismatch("an item of the list is empty");
      const result = this.item(format.item, item, format.item_spm);
      if (!result.ok) return result;
      spm = spm || result.spm;
    }
    return accepted(spm);
  }

  /**
   * Checks `value` against an element's exported type. `context` holds
   * `fourthEdition` and `interactionType` (the SCORM 2004 type word of the
   * interaction whose response is checked, or null). Returns `{ok: true,
   * spm}` or `{ok: false, error, reason}` with `error` a rule name.
   */
  validate(type, value, context) {
    switch (type.kind) {
      case "string_12":
      case "feedback_12":
        return longerThan(value, type.max) ? mismatch(`longer than ${type.max} characters`) : accepted();
      case "suspend_data_12":
        return this.spm(value, type.spm);
      case "identifier_12":
        return this.require(type.pattern, value, "not a cmi identifier");
      case "decimal_12":
        return value === "" ? accepted() : this.require(type.pattern, value, "not a decimal number");
      case "score_12":
        return value === "" ? accepted() : this.realIn(value, type.min, type.max);
      case "signed_integer_12": {
        const format = this.require(type.pattern, value, "not an integer");
        return format.ok ? this.inRange(value, type.min, type.max) : format;
      }
      case "time_12":
        return this.require(type.pattern, value, "not a cmi time");
      case "timespan_12":
        return value === "" ? accepted() : this.require(type.pattern, value, "not a cmi timespan");
      case "vocabulary":
        return type.words.includes(value) ? accepted() : mismatch(`not one of ${type.words.join(", ")}`);
      case "result":
        return type.words.includes(value) || this.matches(type.pattern, value)
          ? accepted()
          : mismatch(`not one of ${type.words.join(", ")} nor a number`);
      case "characterstring":
        return this.spm(value, type.spm);
      case "suspend_data_2004":
        return this.spm(value, context.fourthEdition ? 64000 : 4000);
      case "localized_string": {
        const stripped = this.stripDelimiters(value, type.delimiters);
        return stripped.ok ? this.spm(stripped.text, type.spm) : stripped;
      }
      case "language": {
        if (value === "") return accepted();
        const format = this.require(type.pattern, value, "not a language tag");
        return format.ok ? this.spm(value, type.spm) : format;
      }
      case "identifier":
        return this.identifier(value, type.spm);
      case "real":
        return this.realIn(value, type.min, type.max);
      case "timestamp":
        return this.timestamp(value);
      case "duration":
        return this.duration(value);
      case "learner_response":
      case "correct_response_pattern": {
        const rules = context.interactionType ? this.interactionTypes[context.interactionType] : null;
        if (!rules) {
          return { ok: false, error: "DependencyNotEstablished", reason: "the interaction type is not set" };
        }
        return this.response(type.kind === "learner_response" ? rules.learner_response : rules.pattern, value);
      }
      case "nav_request":
        return this.navRequest(type, value, context);
      default:
        throw new Error(`unknown value type ${type.kind}`);
    }
  }

  /** How correct response patterns of one interaction must differ: "none", "set" or "exact". */
  samePattern(rule, a, b) {
    switch (rule) {
      case "exact":
        return a === b;
      case "set": {
        const items = (text) => [...new Set(text.split(this.separators.list))].sort();
        const left = items(a);
        const right = items(b);
        return left.length === right.length && left.every((item, i) => item === right[i]);
      }
      default:
        return false;
    }
  }
}

function daysInMonth(year, month) {
  if ([4, 6, 9, 11].includes(month)) return 30;
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return 31;
}
