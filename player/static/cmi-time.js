// Time spans of both data models, exact to the centisecond: the port of
// `domain::cmi::time`. SCORM 2004 durations are held in BigInt components
// that saturate at 2^64 - 1, as the Rust `u64` fields do, so sums and the
// text they print are identical in both runtimes.

const U64_MAX = (1n << 64n) - 1n;

const sat = (value) => (value > U64_MAX ? U64_MAX : value);

/** Reads a run of ASCII digits, saturating instead of overflowing. */
export function saturatingDigits(digits) {
  return sat(BigInt(digits));
}

/** Reads one or two fractional digits as hundredths ("5" is 50). */
function centisOfFraction(digits) {
  const value = saturatingDigits(digits);
  return digits.length === 1 ? value * 10n : value;
}

/** A SCORM 2004 `timeinterval (second,10,2)`, an ISO 8601 duration. */
export class IsoDuration {
  constructor({ years = 0n, months = 0n, days = 0n, hours = 0n, minutes = 0n, centiseconds = 0n } = {}) {
    this.years = years;
    this.months = months;
    this.days = days;
    this.hours = hours;
    this.minutes = minutes;
    this.centiseconds = centiseconds;
  }

  static zero() {
    return new IsoDuration();
  }

  /**
   * Parses a duration with the shared `duration` pattern; returns null when
   * it is not one (`P` alone and a trailing `T` are refused too).
   */
  static parse(text, pattern) {
    if (text === "P" || text.endsWith("T")) return null;
    const match = pattern.exec(text);
    if (!match) return null;
    const groups = match.groups;
    const number = (name) => (groups[name] === undefined ? 0n : saturatingDigits(groups[name]));
    const fraction = groups.fraction === undefined ? 0n : centisOfFraction(groups.fraction);
    return new IsoDuration({
      years: number("years"),
      months: number("months"),
      days: number("days"),
      hours: number("hours"),
      minutes: number("minutes"),
      centiseconds: sat(sat(number("seconds") * 100n) + fraction),
    });
  }

  isZero() {
    return (
      this.years === 0n &&
      this.months === 0n &&
      this.days === 0n &&
      this.hours === 0n &&
      this.minutes === 0n &&
      this.centiseconds === 0n
    );
  }

  /** The sum, component by component, with centiseconds carried up to days. */
  add(other) {
    return new IsoDuration({
      years: sat(this.years + other.years),
      months: sat(this.months + other.months),
      days: sat(this.days + other.days),
      hours: sat(this.hours + other.hours),
      minutes: sat(this.minutes + other.minutes),
      centiseconds: sat(this.centiseconds + other.centiseconds),
    }).normalized();
  }

  /** Seconds below 60, minutes below 60, hours below 24; years and months untouched. */
  normalized() {
    const minutes = sat(this.minutes + this.centiseconds / 6000n);
    const hours = sat(this.hours + minutes / 60n);
    const days = sat(this.days + hours / 24n);
    return new IsoDuration({
      years: this.years,
      months: this.months,
      days,
      hours: hours % 24n,
      minutes: minutes % 60n,
      centiseconds: this.centiseconds % 6000n,
    });
  }

  /** The length in centiseconds when it does not depend on the calendar, else null. */
  exactCentiseconds() {
    if (this.years !== 0n || this.months !== 0n) return null;
    const total = ((this.days * 24n + this.hours) * 60n + this.minutes) * 6000n + this.centiseconds;
    return total > U64_MAX ? null : total;
  }

  /** Zero components left out; the empty duration is `PT0H0M0S`. */
  toString() {
    if (this.isZero()) return "PT0H0M0S";
    let text = "P";
    if (this.years !== 0n) text += `${this.years}Y`;
    if (this.months !== 0n) text += `${this.months}M`;
    if (this.days !== 0n) text += `${this.days}D`;
    if (this.hours === 0n && this.minutes === 0n && this.centiseconds === 0n) return text;
    text += "T";
    if (this.hours !== 0n) text += `${this.hours}H`;
    if (this.minutes !== 0n) text += `${this.minutes}M`;
    if (this.centiseconds !== 0n) {
      text += `${this.centiseconds / 100n}`;
      const fraction = this.centiseconds % 100n;
      if (fraction !== 0n) {
        text += fraction % 10n === 0n ? `.${fraction / 10n}` : `.${String(fraction).padStart(2, "0")}`;
      }
      text += "S";
    }
    return text;
  }
}

/** The largest SCORM 1.2 `CMITimespan`, `9999:59:59.99`, in centiseconds. */
const TIMESPAN_MAX = ((9999 * 60 + 59) * 60 + 59) * 100 + 99;

/** A SCORM 1.2 `CMITimespan`, held in centiseconds and clamped at `9999:59:59.99`. */
export class Timespan12 {
  constructor(centiseconds) {
    this.centiseconds = Math.min(centiseconds, TIMESPAN_MAX);
  }

  /** Parses `HH[HH]:MM:SS[.S[S]]`; the blank span is zero; null when invalid. */
  static parse(text, pattern) {
    if (text === "") return new Timespan12(0);
    const match = pattern.exec(text);
    if (!match) return null;
    const g = match.groups;
    const fraction = g.fraction === undefined ? 0 : Number(centisOfFraction(g.fraction));
    const seconds = (Number(g.hours) * 60 + Number(g.minutes)) * 60 + Number(g.seconds);
    return new Timespan12(seconds * 100 + fraction);
  }

  add(other) {
    return new Timespan12(this.centiseconds + other.centiseconds);
  }

  /** Four hour digits and two fractional digits: `0001:02:03.40`. */
  toString() {
    const total = Math.floor(this.centiseconds / 100);
    const pad = (value, width) => String(value).padStart(width, "0");
    return `${pad(Math.floor(total / 3600), 4)}:${pad(Math.floor(total / 60) % 60, 2)}:${pad(total % 60, 2)}.${pad(
      this.centiseconds % 100,
      2,
    )}`;
  }
}

