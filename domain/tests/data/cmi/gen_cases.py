#!/usr/bin/env python3
"""Writes cases.json, the run-time conformance table (see README.md).

Every expectation below is written by hand from the spec digest
(/work/shared/standards.md §2 and §3) and ADL's sample RTE behaviour; none is
computed by running an implementation. Edit this file, then run it:

    python3 domain/tests/data/cmi/gen_cases.py
"""

import json
import os

V12 = "1.2"
V2 = "2004-2"
V3 = "2004-3"
V4 = "2004-4"

CASES = []
NAMES = set()


def init(arg=""):
    return {"fn": "Initialize", "arg": arg}


def term(arg=""):
    return {"fn": "Terminate", "arg": arg}


def commit(arg=""):
    return {"fn": "Commit", "arg": arg}


def get(element):
    return {"fn": "GetValue", "element": element}


def put(element, value):
    return {"fn": "SetValue", "element": element, "value": value}


def last_error():
    return {"fn": "GetLastError"}


def error_string(code):
    return {"fn": "GetErrorString", "arg": code}


def diagnostic(code):
    return {"fn": "GetDiagnostic", "arg": code}


def relaunch(**launch):
    step = {"fn": "Relaunch"}
    if launch:
        step["launch"] = launch
    return step


def expecting(call, error, result=None):
    """A setup step that is expected to fail (or return something specific)."""
    step = dict(call)
    step["expect"] = {"error": error}
    if result is not None:
        step["expect"]["result"] = result
    return step


def repeat(text, times):
    return {"repeat": text, "times": times}


def case(version, name, call, error, result=None, setup=None, launch=None, **expect):
    name = f"{version} {name}"
    assert name not in NAMES, name
    NAMES.add(name)
    row = {"name": name, "version": version}
    if launch:
        row["launch"] = launch
    row["setup"] = setup if setup is not None else [init()]
    row["call"] = call
    row["expect"] = {"error": error}
    if result is not None:
        row["expect"]["result"] = result
    row["expect"].update(expect)
    CASES.append(row)


def ok_set(version, element, value, setup=None, launch=None, label=None):
    """SetValue succeeds, and GetValue afterwards returns the value (when readable)."""
    case(version, label or f"set {element}={short(value)}", put(element, value), "0", "true",
         setup=setup, launch=launch)


def bad_set(version, element, value, error, setup=None, launch=None, label=None):
    case(version, label or f"refuse {element}={short(value)}", put(element, value), error, "false",
         setup=setup, launch=launch)


def round_trip(version, element, value, setup=None, launch=None, label=None):
    setup = (setup if setup is not None else [init()]) + [put(element, value)]
    case(version, label or f"read back {element}={short(value)}", get(element), "0", value,
         setup=setup, launch=launch)


def short(value):
    if isinstance(value, dict):
        return f"{value['repeat']}*{value['times']}"
    return value if len(value) <= 40 else value[:37] + "..."


# --------------------------------------------------------------------------
# SCORM 1.2
# --------------------------------------------------------------------------

def scorm12_state_machine():
    v = V12
    case(v, "LMSInitialize", init(), "0", "true", setup=[])
    case(v, "LMSInitialize with argument", init("x"), "201", "false", setup=[])
    case(v, "LMSInitialize twice", init(), "101", "false")
    case(v, "LMSInitialize after LMSFinish", init(), "101", "false", setup=[init(), term()])
    case(v, "LMSGetValue before LMSInitialize", get("cmi.core.lesson_location"), "301", "", setup=[])
    case(v, "LMSSetValue before LMSInitialize", put("cmi.core.lesson_location", "a"), "301", "false", setup=[])
    case(v, "LMSCommit before LMSInitialize", commit(), "301", "false", setup=[])
    case(v, "LMSFinish before LMSInitialize", term(), "301", "false", setup=[])
    case(v, "LMSCommit", commit(), "0", "true")
    case(v, "LMSCommit with argument", commit("x"), "201", "false")
    case(v, "LMSFinish", term(), "0", "true")
    case(v, "LMSFinish with argument", term("x"), "201", "false")
    case(v, "still running after LMSFinish with argument", get("cmi.core.lesson_location"), "0", "",
         setup=[init(), expecting(term("x"), "201", "false")])
    case(v, "LMSGetValue after LMSFinish", get("cmi.core.lesson_location"), "101", "", setup=[init(), term()])
    case(v, "LMSSetValue after LMSFinish", put("cmi.core.lesson_location", "a"), "101", "false",
         setup=[init(), term()])
    case(v, "LMSCommit after LMSFinish", commit(), "101", "false", setup=[init(), term()])
    case(v, "LMSFinish after LMSFinish", term(), "101", "false", setup=[init(), term()])
    case(v, "LMSGetValue of empty name", get(""), "201", "")
    case(v, "LMSSetValue of empty name", put("", "x"), "201", "false")
    case(v, "LMSGetLastError after success", last_error(), "0", "0")
    case(v, "LMSGetLastError after failure", last_error(), "405", "405",
         setup=[init(), expecting(put("cmi.core.score.raw", "abc"), "405", "false")])
    case(v, "LMSGetLastError before LMSInitialize", last_error(), "0", "0", setup=[])
    case(v, "LMSGetLastError keeps the error", last_error(), "301", "301",
         setup=[expecting(get("cmi.core.lesson_location"), "301", ""),
                expecting(error_string("301"), "301", "Not initialized"),
                expecting(diagnostic(""), "301")])
    case(v, "success clears the error", get("cmi.core.lesson_location"), "0", "",
         setup=[init(), expecting(put("cmi.core.score.raw", "abc"), "405", "false")])
    case(v, "LMSGetDiagnostic of last error", diagnostic(""), "403", result_not_empty=True,
         setup=[init(), expecting(put("cmi.core.student_id", "x"), "403", "false")])
    case(v, "LMSGetDiagnostic of a code", diagnostic("405"), "0", result_not_empty=True)
    case(v, "LMSGetDiagnostic of unknown code", diagnostic("999"), "0", "")
    texts = {
        "0": "No error",
        "101": "General exception",
        "201": "Invalid argument error",
        "202": "Element cannot have children",
        "203": "Element not an array - cannot have count",
        "301": "Not initialized",
        "401": "Not implemented error",
        "402": "Invalid set value, element is a keyword",
        "403": "Element is read only",
        "404": "Element is write only",
        "405": "Incorrect data type",
    }
    for code, text in texts.items():
        case(v, f"LMSGetErrorString {code}", error_string(code), "0", text)
    for code in ["", "999", "406", "1", "0101"]:
        case(v, f"LMSGetErrorString {code!r} is empty", error_string(code), "0", "")
    case(v, "LMS names are aliases", {"fn": "LMSGetValue", "element": "cmi.core.lesson_status"}, "0",
         "not attempted", setup=[{"fn": "LMSInitialize", "arg": ""}])


def scorm12_keywords():
    v = V12
    case(v, "cmi._version", get("cmi._version"), "0", "3.4")
    children = {
        "cmi._children": "core,suspend_data,launch_data,comments,objectives,student_data,student_preference,interactions",
        "cmi.core._children": "student_id,student_name,lesson_location,credit,lesson_status,entry,score,total_time,lesson_mode,exit,session_time",
        "cmi.core.score._children": "raw,min,max",
        "cmi.objectives._children": "id,score,status",
        "cmi.student_data._children": "mastery_score,max_time_allowed,time_limit_action",
        "cmi.student_preference._children": "audio,language,speed,text",
        "cmi.interactions._children": "id,objectives,time,type,correct_responses,weighting,student_response,result,latency",
    }
    for element, value in children.items():
        case(v, f"get {element}", get(element), "0", value)
        bad_set(v, element, "x", "402", label=f"set keyword {element}")
    case(v, "get cmi.objectives.0.score._children", get("cmi.objectives.0.score._children"), "0",
         "raw,min,max", setup=[init(), put("cmi.objectives.0.id", "o1")])
    for element in ["cmi.core.student_id._children", "cmi.suspend_data._children", "cmi.comments._children",
                    "cmi.core.score.raw._children", "cmi.launch_data._children"]:
        case(v, f"get {element}", get(element), "202", "")
    case(v, "get cmi.interactions.0.objectives._children", get("cmi.interactions.0.objectives._children"),
         "202", "", setup=[init(), put("cmi.interactions.0.id", "i1")])
    for element in ["cmi.core._count", "cmi.core.score._count", "cmi.student_data._count",
                    "cmi.launch_data._count", "cmi.core.lesson_status._count", "cmi._count"]:
        case(v, f"get {element}", get(element), "203", "")
    for element in ["cmi.objectives._count", "cmi.interactions._count"]:
        case(v, f"get {element} when empty", get(element), "0", "0")
        bad_set(v, element, "1", "402", label=f"set keyword {element}")
    case(v, "get cmi.interactions.0.objectives._count", get("cmi.interactions.0.objectives._count"), "0", "0",
         setup=[init(), put("cmi.interactions.0.id", "i1")])
    case(v, "get cmi.interactions.0.correct_responses._count", get("cmi.interactions.0.correct_responses._count"),
         "0", "1", setup=[init(), put("cmi.interactions.0.correct_responses.0.pattern", "a")])
    case(v, "get _count of a missing interaction", get("cmi.interactions.0.objectives._count"), "101", "")
    bad_set(v, "cmi._version", "3.4", "402", label="set keyword cmi._version")
    for element in ["cmi.core.student_id._children", "cmi.core._count", "cmi.core._version",
                    "cmi.interactions.0.objectives._children"]:
        bad_set(v, element, "x", "402", label=f"set keyword {element} the element lacks")
    bad_set(v, "cmi.bogus._children", "x", "401", label="set keyword of an unknown category")
    case(v, "get cmi.core._version", get("cmi.core._version"), "201", "")
    case(v, "get unknown element in cmi.core", get("cmi.core.bogus"), "201", "")
    bad_set(v, "cmi.core.bogus", "x", "201", label="set unknown element in cmi.core")
    case(v, "get a category", get("cmi.core"), "201", "")
    case(v, "get cmi", get("cmi"), "201", "")
    case(v, "get an objective record", get("cmi.objectives.0"), "201", "",
         setup=[init(), put("cmi.objectives.0.id", "o1")])
    case(v, "get unknown category", get("cmi.bogus.x"), "401", "")
    bad_set(v, "cmi.bogus.x", "x", "401", label="set unknown category")
    case(v, "get unknown top-level", get("cmi.bogus"), "401", "")
    case(v, "get a non-cmi name", get("adl.nav.request"), "401", "")
    case(v, "names are case sensitive", get("cmi.core.Lesson_Status"), "201", "")
    case(v, "a 2004 name is not a 1.2 name", get("cmi.location"), "401", "")


def scorm12_elements():
    v = V12
    read_only = {
        "cmi.core.student_id": "learner-1",
        "cmi.core.student_name": "Doe, Jane",
        "cmi.core.credit": "credit",
        "cmi.core.entry": "ab-initio",
        "cmi.core.total_time": "0000:00:00.00",
        "cmi.core.lesson_mode": "normal",
        "cmi.launch_data": "",
        "cmi.comments_from_lms": "",
        "cmi.student_data.mastery_score": "",
        "cmi.student_data.max_time_allowed": "",
        "cmi.student_data.time_limit_action": "",
    }
    for element, value in read_only.items():
        case(v, f"get {element}", get(element), "0", value)
        bad_set(v, element, value or "x", "403", label=f"set read-only {element}")
    launched = [
        ("cmi.core.credit", {"credit": "no-credit"}, "no-credit"),
        ("cmi.core.lesson_mode", {"mode": "browse"}, "browse"),
        ("cmi.core.lesson_mode", {"mode": "review"}, "review"),
        ("cmi.launch_data", {"launch_data": "level=2;lang=en"}, "level=2;lang=en"),
        ("cmi.student_data.mastery_score", {"mastery_score": "80"}, "80"),
        ("cmi.student_data.max_time_allowed", {"max_time_allowed": "00:30:00"}, "00:30:00"),
        ("cmi.student_data.time_limit_action", {"time_limit_action": "exit,message"}, "exit,message"),
        ("cmi.comments_from_lms", {"comments_from_lms": [{"comment": "Welcome"}]}, "Welcome"),
        ("cmi.core.student_name", {"learner_name": "Smith, Ann"}, "Smith, Ann"),
    ]
    for element, launch, value in launched:
        case(v, f"get {element} from launch {value}", get(element), "0", value, launch=launch)

    # Write-only.
    for element, good, bad in [
        ("cmi.core.exit", ["time-out", "suspend", "logout", ""], ["normal", "Suspend", "quit"]),
        ("cmi.core.session_time", ["00:00:00", "01:02:03.4", "9999:59:59.99", "12:00:00.25"],
         ["1:00:00", "00:60:00", "PT1H", "00:00:00.123", "30 minutes", "99:99:99"]),
    ]:
        case(v, f"get write-only {element}", get(element), "404", "")
        for value in good:
            ok_set(v, element, value)
        for value in bad:
            bad_set(v, element, value, "405")

    # lesson_location
    case(v, "lesson_location starts empty", get("cmi.core.lesson_location"), "0", "")
    round_trip(v, "cmi.core.lesson_location", "page-7")
    round_trip(v, "cmi.core.lesson_location", repeat("l", 255), label="lesson_location of 255")
    bad_set(v, "cmi.core.lesson_location", repeat("l", 256), "405")

    # lesson_status
    case(v, "lesson_status starts not attempted", get("cmi.core.lesson_status"), "0", "not attempted")
    for value in ["passed", "completed", "failed", "incomplete", "browsed"]:
        round_trip(v, "cmi.core.lesson_status", value)
    for value in ["not attempted", "Passed", "done", ""]:
        bad_set(v, "cmi.core.lesson_status", value, "405")

    # scores
    for element in ["cmi.core.score.raw", "cmi.core.score.min", "cmi.core.score.max"]:
        case(v, f"{element} starts empty", get(element), "0", "")
        for value in ["0", "100", "85.5", ""]:
            round_trip(v, element, value)
        for value in ["150", "-1", "100.1"]:
            bad_set(v, element, value, "405", label=f"out of range {element}={value}")
        for value in ["abc", "1e2", "50%", " 5"]:
            bad_set(v, element, value, "405")

    # suspend data and comments
    case(v, "suspend_data starts empty", get("cmi.suspend_data"), "0", "")
    round_trip(v, "cmi.suspend_data", repeat("s", 4096), label="suspend_data of 4096")
    bad_set(v, "cmi.suspend_data", repeat("s", 4097), "405", label="suspend_data over 4096")
    round_trip(v, "cmi.suspend_data", repeat("s", 10000), launch={"suspend_data_limit": 10000},
               label="suspend_data of 10000 with a raised limit")
    bad_set(v, "cmi.suspend_data", repeat("s", 10001), "405", launch={"suspend_data_limit": 10000},
            label="suspend_data over a raised limit")
    case(v, "refused suspend_data keeps the old value", get("cmi.suspend_data"), "0", "kept",
         setup=[init(), put("cmi.suspend_data", "kept"),
                expecting(put("cmi.suspend_data", repeat("s", 4097)), "405", "false")])
    round_trip(v, "cmi.comments", "Great course, {really}.")
    round_trip(v, "cmi.comments", repeat("c", 4096), label="comments of 4096")
    bad_set(v, "cmi.comments", repeat("c", 4097), "405")

    # student_preference
    prefs = [
        ("cmi.student_preference.audio", ["-1", "0", "100", "50"], [("101", "405"), ("-2", "405"), ("abc", "405"), ("1.5", "405")]),
        ("cmi.student_preference.speed", ["-100", "0", "100"], [("101", "405"), ("-101", "405"), ("fast", "405")]),
        ("cmi.student_preference.text", ["-1", "0", "1"], [("2", "405"), ("-2", "405"), ("on", "405")]),
        ("cmi.student_preference.language", ["en", "", "Deutsch"], [(repeat("x", 256), "405")]),
    ]
    for element, good, bad in prefs:
        case(v, f"{element} starts empty", get(element), "0", "")
        for value in good:
            round_trip(v, element, value)
        for value, error in bad:
            bad_set(v, element, value, error)
    case(v, "preference from launch", get("cmi.student_preference.audio"), "0", "80",
         launch={"learner_preferences": {"audio": "80"}})

    # objectives
    ob = "cmi.objectives"
    round_trip(v, f"{ob}.0.id", "obj_1")
    case(v, "objective count after append", get(f"{ob}._count"), "0", "1",
         setup=[init(), put(f"{ob}.0.id", "obj_1")])
    for value in ["obj 1", "", repeat("o", 256)]:
        bad_set(v, f"{ob}.0.id", value, "405")
    case(v, "refused id appends nothing", get(f"{ob}._count"), "0", "0",
         setup=[init(), expecting(put(f"{ob}.0.id", "obj 1"), "405", "false")])
    bad_set(v, f"{ob}.1.id", "o2", "101", label="objective index skips a record")
    case(v, "objective index beyond count", get(f"{ob}.0.id"), "101", "")
    ok_set(v, f"{ob}.0.score.raw", "50", label="an objective score may open the record")
    case(v, "new objective status", get(f"{ob}.0.status"), "0", "not attempted",
         setup=[init(), put(f"{ob}.0.id", "o1")])
    case(v, "new objective score", get(f"{ob}.0.score.raw"), "0", "",
         setup=[init(), put(f"{ob}.0.id", "o1")])
    for value in ["passed", "completed", "failed", "incomplete", "browsed", "not attempted"]:
        round_trip(v, f"{ob}.0.status", value, setup=[init(), put(f"{ob}.0.id", "o1")])
    bad_set(v, f"{ob}.0.status", "unknown", "405", setup=[init(), put(f"{ob}.0.id", "o1")])
    for field in ["raw", "min", "max"]:
        round_trip(v, f"{ob}.0.score.{field}", "75", setup=[init(), put(f"{ob}.0.id", "o1")])
        bad_set(v, f"{ob}.0.score.{field}", "101", "405", setup=[init(), put(f"{ob}.0.id", "o1")])
    round_trip(v, f"{ob}.1.id", "obj_2", setup=[init(), put(f"{ob}.0.id", "o1")],
               label="second objective")
    case(v, "objectives from the manifest", get(f"{ob}.1.id"), "0", "m2",
         launch={"objective_ids": ["m1", "m2"]})

    # interactions (write-only)
    it = "cmi.interactions.0"
    with_id = [init(), put(f"{it}.id", "q1")]
    ok_set(v, f"{it}.id", "q1")
    for value in ["q 1", ""]:
        bad_set(v, f"{it}.id", value, "405")
    case(v, "get write-only interaction id", get(f"{it}.id"), "404", "", setup=with_id)
    case(v, "interaction count", get("cmi.interactions._count"), "0", "1", setup=with_id)
    bad_set(v, "cmi.interactions.1.id", "q2", "101", label="interaction index skips a record")
    case(v, "interaction index beyond count", get("cmi.interactions.0.id"), "101", "")
    for value in ["true-false", "choice", "fill-in", "matching", "performance", "sequencing", "likert", "numeric"]:
        ok_set(v, f"{it}.type", value, setup=with_id)
    for value in ["long-fill-in", "other", "Choice"]:
        bad_set(v, f"{it}.type", value, "405", setup=with_id)
    for value in ["12:30:00", "00:00:00.5", "23:59:59"]:
        ok_set(v, f"{it}.time", value, setup=with_id)
    for value in ["24:00:00", "12:30", "2005-01-01T12:00:00"]:
        bad_set(v, f"{it}.time", value, "405", setup=with_id)
    for value in ["1", "-0.5", "10.25", ""]:
        ok_set(v, f"{it}.weighting", value, setup=with_id)
    bad_set(v, f"{it}.weighting", "heavy", "405", setup=with_id)
    for value in ["correct", "wrong", "unanticipated", "neutral", "0.75", "-1"]:
        ok_set(v, f"{it}.result", value, setup=with_id)
    for value in ["incorrect", "Correct", ""]:
        bad_set(v, f"{it}.result", value, "405", setup=with_id)
    for value in ["00:00:05.5", "0000:01:00"]:
        ok_set(v, f"{it}.latency", value, setup=with_id)
    bad_set(v, f"{it}.latency", "5s", "405", setup=with_id)
    for value in ["a,b", "true", "{1,2}", repeat("r", 255)]:
        ok_set(v, f"{it}.student_response", value, setup=with_id)
    bad_set(v, f"{it}.student_response", repeat("r", 256), "405", setup=with_id)
    ok_set(v, f"{it}.correct_responses.0.pattern", "1.a,2.b", setup=with_id)
    bad_set(v, f"{it}.correct_responses.1.pattern", "b", "101", setup=with_id,
            label="correct response index skips a record")
    case(v, "get write-only pattern", get(f"{it}.correct_responses.0.pattern"), "404", "",
         setup=with_id + [put(f"{it}.correct_responses.0.pattern", "a")])
    ok_set(v, f"{it}.objectives.0.id", "obj_1", setup=with_id)
    bad_set(v, f"{it}.objectives.0.id", "obj 1", "405", setup=with_id)
    bad_set(v, f"{it}.objectives.1.id", "obj_2", "101", setup=with_id,
            label="interaction objective index skips a record")
    case(v, "interaction objective count", get(f"{it}.objectives._count"), "0", "1",
         setup=with_id + [put(f"{it}.objectives.0.id", "o")])
    ok_set(v, f"{it}.result", "correct", label="1.2 interactions need no id first")
    ok_set(v, "cmi.interactions.0.id", "q1", setup=with_id, label="interaction ids may repeat")
    case(v, "get write-only interaction type", get(f"{it}.type"), "404", "",
         setup=with_id + [put(f"{it}.type", "choice")])


def scorm12_semantics():
    v = V12
    suspended = [init(), put("cmi.suspend_data", "state=7"), put("cmi.core.lesson_location", "p5"),
                 put("cmi.core.exit", "suspend"), term(), relaunch(), init()]
    case(v, "resume after suspend: entry", get("cmi.core.entry"), "0", "resume", setup=suspended)
    case(v, "resume after suspend: suspend_data", get("cmi.suspend_data"), "0", "state=7", setup=suspended)
    case(v, "resume after suspend: lesson_location", get("cmi.core.lesson_location"), "0", "p5", setup=suspended)
    case(v, "resume after suspend: status untouched keeps finish rule", get("cmi.core.lesson_status"), "0",
         "completed", setup=suspended)
    case(v, "resume restores 4096 characters exactly", get("cmi.suspend_data"), "0", repeat("x", 4096),
         setup=[init(), put("cmi.suspend_data", repeat("x", 4096)), put("cmi.core.exit", "suspend"), term(),
                relaunch(), init()])
    case(v, "resume restores beyond the spm with a raised limit", get("cmi.suspend_data"), "0",
         repeat("x", 50000), launch={"suspend_data_limit": 64000},
         setup=[init(), put("cmi.suspend_data", repeat("x", 50000)), put("cmi.core.exit", "suspend"), term(),
                relaunch(), init()])
    for exit_value in ["", "logout", "time-out"]:
        left = [init(), put("cmi.suspend_data", "state=7"), put("cmi.core.lesson_location", "p5"),
                put("cmi.core.score.raw", "40"), put("cmi.core.exit", exit_value), term(), relaunch(), init()]
        case(v, f"after exit {exit_value!r}: entry", get("cmi.core.entry"), "0", "", setup=left)
        case(v, f"after exit {exit_value!r}: suspend_data cleared", get("cmi.suspend_data"), "0", "", setup=left)
        case(v, f"after exit {exit_value!r}: lesson_location cleared", get("cmi.core.lesson_location"), "0", "",
             setup=left)
        case(v, f"after exit {exit_value!r}: score kept", get("cmi.core.score.raw"), "0", "40", setup=left)
    case(v, "without LMSFinish the entry is empty", get("cmi.core.entry"), "0", "",
         setup=[init(), put("cmi.core.lesson_location", "p"), commit(), relaunch(), init()])
    timed = [init(), put("cmi.core.session_time", "00:10:00"), term(), relaunch(), init(),
             put("cmi.core.session_time", "00:05:30.5"), term(), relaunch(), init()]
    case(v, "total_time adds session times", get("cmi.core.total_time"), "0", "0000:15:30.50", setup=timed)
    case(v, "total_time unchanged without session_time", get("cmi.core.total_time"), "0", "0000:10:00.00",
         setup=[init(), put("cmi.core.session_time", "00:10:00"), term(), relaunch(), init(), term(),
                relaunch(), init()])
    case(v, "last session_time counts", get("cmi.core.total_time"), "0", "0000:02:00.00",
         setup=[init(), put("cmi.core.session_time", "00:01:00"), put("cmi.core.session_time", "00:02:00"),
                term(), relaunch(), init()])
    case(v, "total_time hours beyond 99", get("cmi.core.total_time"), "0", "0150:00:00.00",
         setup=[init(), put("cmi.core.session_time", "0100:00:00"), term(), relaunch(), init(),
                put("cmi.core.session_time", "50:00:00"), term(), relaunch(), init()])
    case(v, "total_time clamps at 9999 hours", get("cmi.core.total_time"), "0", "9999:59:59.99",
         setup=[init(), put("cmi.core.session_time", "9999:00:00"), term(), relaunch(), init(),
                put("cmi.core.session_time", "9999:00:00"), term(), relaunch(), init()])

    status_rows = [
        ("unset status becomes completed", {}, [], "completed"),
        ("unset status with mastery and passing raw", {"mastery_score": "80"}, [put("cmi.core.score.raw", "80")], "passed"),
        ("unset status with mastery and failing raw", {"mastery_score": "80"}, [put("cmi.core.score.raw", "79.99")], "failed"),
        ("mastery without raw score", {"mastery_score": "80"}, [], "completed"),
        ("mastery ignored without credit", {"mastery_score": "80", "credit": "no-credit"}, [put("cmi.core.score.raw", "90")], "completed"),
        ("status set by the SCO is kept", {"mastery_score": "80"}, [put("cmi.core.lesson_status", "incomplete"), put("cmi.core.score.raw", "90")], "incomplete"),
        ("mastery override judges a set status", {"mastery_score": "80", "scorm12": {"mastery_override": True}}, [put("cmi.core.lesson_status", "incomplete"), put("cmi.core.score.raw", "90")], "passed"),
        ("mastery override can fail a pass", {"mastery_score": "80", "scorm12": {"mastery_override": True}}, [put("cmi.core.lesson_status", "passed"), put("cmi.core.score.raw", "10")], "failed"),
        ("browse mode gives browsed", {"mode": "browse"}, [], "browsed"),
        ("browse mode keeps a set status", {"mode": "browse"}, [put("cmi.core.lesson_status", "completed")], "completed"),
        ("review mode changes nothing", {"mode": "review"}, [], "not attempted"),
        ("policy incomplete for an unset status", {"scorm12": {"unset_status_at_finish": "incomplete"}}, [], "incomplete"),
    ]
    for label, launch, calls, status in status_rows:
        case(v, f"LMSFinish: {label}", get("cmi.core.lesson_status"), "0", status, launch=launch or None,
             setup=[init()] + calls + [term(), relaunch(), init()])
    case(v, "status is not judged before LMSFinish", get("cmi.core.lesson_status"), "0", "not attempted",
         launch={"mastery_score": "80"}, setup=[init(), put("cmi.core.score.raw", "90")])
    kept = [init(), put("cmi.interactions.0.id", "q1"), put("cmi.objectives.0.id", "o1"),
            put("cmi.objectives.0.status", "passed"), term(), relaunch(), init()]
    case(v, "interactions kept across sessions", get("cmi.interactions._count"), "0", "1", setup=kept)
    case(v, "objectives kept across sessions", get("cmi.objectives.0.status"), "0", "passed", setup=kept)
    case(v, "manifest objectives are not duplicated on relaunch", get("cmi.objectives._count"), "0", "2",
         launch={"objective_ids": ["m1", "m2"]}, setup=[init(), term(), relaunch(), init()])
    case(v, "browse relaunch shows the mode", get("cmi.core.lesson_mode"), "0", "browse",
         setup=[init(), term(), relaunch(mode="browse"), init()])
    case(v, "session state is per launch", init(), "0", "true", setup=[init(), term(), relaunch()])


# --------------------------------------------------------------------------
# SCORM 2004
# --------------------------------------------------------------------------

def scorm2004_state_machine():
    v = V4
    case(v, "Initialize", init(), "0", "true", setup=[])
    case(v, "Initialize with argument", init("illegal"), "201", "false", setup=[])
    case(v, "Initialize twice", init(), "103", "false")
    case(v, "Initialize with argument while running", init("x"), "201", "false")
    case(v, "Initialize after Terminate", init(), "104", "false", setup=[init(), term()])
    case(v, "Initialize with argument after Terminate", init("x"), "104", "false", setup=[init(), term()])
    case(v, "Terminate before Initialize", term(), "112", "false", setup=[])
    case(v, "Terminate", term(), "0", "true")
    case(v, "Terminate with argument", term("x"), "201", "false")
    case(v, "Terminate twice", term(), "113", "false", setup=[init(), term()])
    case(v, "Commit before Initialize", commit(), "142", "false", setup=[])
    case(v, "Commit with argument before Initialize", commit("x"), "201", "false", setup=[])
    case(v, "Commit", commit(), "0", "true")
    case(v, "Commit with argument", commit("illegal"), "201", "false")
    case(v, "Commit after Terminate", commit(), "143", "false", setup=[init(), term()])
    case(v, "GetValue before Initialize", get("cmi.location"), "122", "", setup=[])
    case(v, "GetValue after Terminate", get("cmi.location"), "123", "", setup=[init(), term()])
    case(v, "SetValue before Initialize", put("cmi.location", "test"), "132", "false", setup=[])
    case(v, "SetValue after Terminate", put("cmi.location", "test"), "133", "false", setup=[init(), term()])
    case(v, "GetValue of empty name", get(""), "301", "")
    case(v, "GetValue of empty name before Initialize", get(""), "301", "", setup=[])
    case(v, "SetValue of empty name", put("", "test"), "351", "false")
    case(v, "SetValue of empty name before Initialize", put("", "test"), "132", "false", setup=[])
    case(v, "still running after Terminate with argument", put("cmi.location", "a"), "0", "true",
         setup=[init(), expecting(term("x"), "201", "false")])
    case(v, "GetLastError before anything", last_error(), "0", "0", setup=[])
    case(v, "GetLastError keeps the error", last_error(), "201", "201",
         setup=[expecting(init("illegal"), "201", "false"), expecting(last_error(), "201", "201"),
                expecting(error_string(""), "201", "")])
    case(v, "GetDiagnostic of the last error", diagnostic(""), "201", result_not_empty=True,
         setup=[expecting(init("illegal"), "201", "false")])
    case(v, "success clears the error", get("cmi.location"), "0", "test",
         setup=[init(), put("cmi.location", "test"), expecting(get(""), "301", "")])
    case(v, "GetDiagnostic 0", diagnostic("0"), "0", result_not_empty=True)
    case(v, "GetDiagnostic 402", diagnostic("402"), "0", result_not_empty=True)
    case(v, "GetDiagnostic 001", diagnostic("001"), "0", "")
    texts = {
        "0": "No Error", "101": "General Exception", "102": "General Initialization Failure",
        "103": "Already Initialized", "104": "Content Instance Terminated",
        "111": "General Termination Failure", "112": "Termination Before Initialization",
        "113": "Termination After Termination", "122": "Retrieve Data Before Initialization",
        "123": "Retrieve Data After Termination", "132": "Store Data Before Initialization",
        "133": "Store Data After Termination", "142": "Commit Before Initialization",
        "143": "Commit After Termination", "201": "General Argument Error", "301": "General Get Failure",
        "351": "General Set Failure", "391": "General Commit Failure", "401": "Undefined Data Model Element",
        "402": "Unimplemented Data Model Element", "403": "Data Model Element Value Not Initialized",
        "404": "Data Model Element Is Read Only", "405": "Data Model Element Is Write Only",
        "406": "Data Model Element Type Mismatch", "407": "Data Model Element Value Out Of Range",
        "408": "Data Model Dependency Not Established",
    }
    for code, text in texts.items():
        case(v, f"GetErrorString {code}", error_string(code), "0", text)
    for code in ["", "001", "1444", "202", "405 "]:
        case(v, f"GetErrorString {code!r} is empty", error_string(code), "0", "")
    case(v, "SCORM 1.2 names are accepted", {"fn": "LMSGetValue", "element": "cmi.mode"}, "0", "normal",
         setup=[{"fn": "LMSInitialize"}])


def scorm2004_keywords():
    v = V4
    case(v, "cmi._version", get("cmi._version"), "0", "1.0")
    bad_set(v, "cmi._version", "1.0", "404", label="set keyword cmi._version")
    case(v, "cmi.location._version", get("cmi.location._version"), "301", "")
    case(v, "cmi.bogus._version", get("cmi.bogus._version"), "401", "")
    for element in ["cmi.location._children", "cmi.score._count", "cmi.location._version",
                    "adl.nav._children"]:
        bad_set(v, element, "x", "404", label=f"set keyword {element} the element lacks")
    bad_set(v, "cmi.bogus._count", "x", "401", label="set keyword of an unknown element")
    children = {
        "cmi.comments_from_learner._children": "comment,location,timestamp",
        "cmi.comments_from_lms._children": "comment,location,timestamp",
        "cmi.interactions._children": "id,type,objectives,timestamp,correct_responses,weighting,learner_response,result,latency,description",
        "cmi.learner_preference._children": "audio_level,language,delivery_speed,audio_captioning",
        "cmi.objectives._children": "id,score,success_status,completion_status,progress_measure,description",
        "cmi.score._children": "scaled,raw,min,max",
        "adl.data._children": "id,store",
    }
    for element, value in children.items():
        case(v, f"get {element}", get(element), "0", value)
        bad_set(v, element, "x", "404", label=f"set keyword {element}")
    case(v, "get cmi.objectives.0.score._children", get("cmi.objectives.0.score._children"), "0",
         "scaled,raw,min,max", setup=[init(), put("cmi.objectives.0.id", "o1")])
    for element in ["cmi.location._children", "cmi.score.raw._children", "cmi.mode._children",
                    "adl.nav._children", "adl.nav.request._children"]:
        case(v, f"get {element}", get(element), "301", "")
    for element in ["cmi.interactions.0.objectives._children", "cmi.interactions.0.correct_responses._children"]:
        case(v, f"get {element}", get(element), "301", "", setup=[init(), put("cmi.interactions.0.id", "i")])
    case(v, "cmi._children is undefined", get("cmi._children"), "401", "")
    case(v, "cmi._count is undefined", get("cmi._count"), "401", "")
    counts = ["cmi.comments_from_learner._count", "cmi.comments_from_lms._count", "cmi.interactions._count",
              "cmi.objectives._count", "adl.data._count"]
    for element in counts:
        case(v, f"get {element} when empty", get(element), "0", "0")
        bad_set(v, element, "1", "404", label=f"set keyword {element}")
    for element in ["cmi.score._count", "cmi.location._count", "cmi.learner_preference._count"]:
        case(v, f"get {element}", get(element), "301", "")
    case(v, "get _count of a missing interaction", get("cmi.interactions.0.objectives._count"), "301", "")
    case(v, "interaction objective count when empty", get("cmi.interactions.0.objectives._count"), "0", "0",
         setup=[init(), put("cmi.interactions.0.id", "i")])
    case(v, "correct response count", get("cmi.interactions.0.correct_responses._count"), "0", "0",
         setup=[init(), put("cmi.interactions.0.id", "i")])
    case(v, "get unknown element", get("cmi.bogus"), "401", "")
    bad_set(v, "cmi.bogus", "x", "401", label="set unknown element")
    case(v, "get a group", get("cmi.score"), "401", "")
    bad_set(v, "cmi.score", "1", "401", label="set a group")
    case(v, "get a record", get("cmi.objectives.0"), "401", "", setup=[init(), put("cmi.objectives.0.id", "o")])
    case(v, "get a collection", get("cmi.objectives"), "401", "")
    case(v, "non-numeric index", get("cmi.objectives.first.id"), "401", "")
    case(v, "negative index", get("cmi.objectives.-1.id"), "401", "")
    case(v, "names are case sensitive", get("cmi.Location"), "401", "")
    case(v, "a 1.2 name is not a 2004 name", get("cmi.core.lesson_status"), "401", "")
    case(v, "trailing dot", get("cmi.location."), "401", "")
    case(v, "unknown data model", get("foo.bar"), "401", "")


def scorm2004_elements():
    v = V4
    # read-only values from the launch
    read_only = [
        ("cmi.credit", None, "credit"),
        ("cmi.credit", {"credit": "no-credit"}, "no-credit"),
        ("cmi.entry", None, "ab-initio"),
        ("cmi.mode", None, "normal"),
        ("cmi.mode", {"mode": "browse"}, "browse"),
        ("cmi.mode", {"mode": "review"}, "review"),
        ("cmi.learner_id", None, "learner-1"),
        ("cmi.learner_name", None, "Doe, Jane"),
        ("cmi.learner_name", {"learner_name": "{lang=fr}Jeanne Doe"}, "{lang=fr}Jeanne Doe"),
        ("cmi.time_limit_action", None, "continue,no message"),
        ("cmi.time_limit_action", {"time_limit_action": "exit,message"}, "exit,message"),
        ("cmi.total_time", None, "PT0H0M0S"),
        ("cmi.launch_data", {"launch_data": "mode=quiz"}, "mode=quiz"),
        ("cmi.completion_threshold", {"completion_threshold": "0.8"}, "0.8"),
        ("cmi.scaled_passing_score", {"scaled_passing_score": "-0.5"}, "-0.5"),
        ("cmi.max_time_allowed", {"max_time_allowed": "P5Y6M4DT12H30M58.55S"}, "P5Y6M4DT12H30M58.55S"),
    ]
    for element, launch, value in read_only:
        label = f"get {element}" + (f" from launch {value}" if launch else "")
        case(v, label, get(element), "0", value, launch=launch)
    for element in ["cmi.credit", "cmi.entry", "cmi.mode", "cmi.learner_id", "cmi.learner_name",
                    "cmi.time_limit_action", "cmi.total_time", "cmi.launch_data", "cmi.completion_threshold",
                    "cmi.scaled_passing_score", "cmi.max_time_allowed"]:
        bad_set(v, element, "x", "404", label=f"set read-only {element}")
    for element in ["cmi.launch_data", "cmi.completion_threshold", "cmi.scaled_passing_score",
                    "cmi.max_time_allowed", "cmi.location", "cmi.suspend_data", "cmi.progress_measure",
                    "cmi.score.scaled", "cmi.score.raw", "cmi.score.min", "cmi.score.max"]:
        case(v, f"{element} not initialized", get(element), "403", "")

    # write-only
    case(v, "get write-only cmi.exit", get("cmi.exit"), "405", "")
    for value in ["time-out", "suspend", "logout", "normal", ""]:
        ok_set(v, "cmi.exit", value)
    for value in ["quit", "Suspend", "suspend "]:
        bad_set(v, "cmi.exit", value, "406")
    case(v, "get write-only cmi.session_time", get("cmi.session_time"), "405", "")
    for value in ["PT1H30M", "P1DT2H", "PT0S", "PT0.5S", "P1Y2M3DT4H5M6.78S", "PT01H059M020S", "P0Y029DT0H"]:
        ok_set(v, "cmi.session_time", value)
    for value in ["P", "PT", "P1DT", "1:30:00", "PT1.234S", "P1W", "pt1h", "PT-5S", ""]:
        bad_set(v, "cmi.session_time", value, "406")

    # statuses
    case(v, "completion_status starts unknown", get("cmi.completion_status"), "0", "unknown")
    for value in ["completed", "incomplete", "not attempted", "unknown"]:
        round_trip(v, "cmi.completion_status", value)
    for value in ["Completed", "done", "passed", ""]:
        bad_set(v, "cmi.completion_status", value, "406")
    case(v, "success_status starts unknown", get("cmi.success_status"), "0", "unknown")
    for value in ["passed", "failed", "unknown"]:
        round_trip(v, "cmi.success_status", value)
    for value in ["pass", "completed", "Passed"]:
        bad_set(v, "cmi.success_status", value, "406")

    # location, suspend data
    round_trip(v, "cmi.location", "chapter-2/page-4")
    round_trip(v, "cmi.location", "")
    round_trip(v, "cmi.location", repeat("l", 1001), label="location above its spm is kept")
    round_trip(v, "cmi.suspend_data", "{\"bookmark\":3,\"answers\":[1,2]}")
    round_trip(v, "cmi.suspend_data", repeat("d", 64000), label="suspend_data of 64000")
    bad_set(v, "cmi.suspend_data", repeat("d", 64001), "351", label="suspend_data over the default limit")
    round_trip(v, "cmi.suspend_data", repeat("d", 100000), launch={"suspend_data_limit": 100000},
               label="suspend_data of 100000 with a raised limit")
    bad_set(v, "cmi.suspend_data", repeat("d", 100001), "351", launch={"suspend_data_limit": 100000},
            label="suspend_data over a raised limit")
    for edition in [V3, V2]:
        round_trip(edition, "cmi.suspend_data", repeat("d", 4000), label="suspend_data of 4000")
        bad_set(edition, "cmi.suspend_data", repeat("d", 4001), "351", label="suspend_data over 4000")
        round_trip(edition, "cmi.suspend_data", repeat("d", 64000), launch={"suspend_data_limit": 64000},
                   label="suspend_data of 64000 with a raised limit")

    # numbers
    for element, good, bad in [
        ("cmi.progress_measure", ["0", "1", "0.5", "1.0", "0.0000001"], [("1.01", "407"), ("-0.01", "407"), ("abc", "406"), ("", "406"), ("50%", "406")]),
        ("cmi.score.scaled", ["-1", "1", "0", "-0.25", "0.9999999"], [("1.5", "407"), ("-1.0000001", "407"), ("x", "406"), ("1,5", "406")]),
        ("cmi.score.raw", ["-12.5", "0", "12345.6789", "150"], [("abc", "406"), ("1e3", "406"), ("", "406")]),
        ("cmi.score.min", ["-100", "0"], [("low", "406")]),
        ("cmi.score.max", ["100", "250.5"], [("+5", "406")]),
        ("cmi.learner_preference.audio_level", ["0", "0.5", "10"], [("-1", "407"), ("loud", "406")]),
        ("cmi.learner_preference.delivery_speed", ["0", "2", "1.25"], [("-0.5", "407"), ("fast", "406")]),
    ]:
        for value in good:
            round_trip(v, element, value)
        for value, error in bad:
            bad_set(v, element, value, error)

    # learner preferences
    for element, default in [("cmi.learner_preference.audio_level", "1"), ("cmi.learner_preference.language", ""),
                             ("cmi.learner_preference.delivery_speed", "1"),
                             ("cmi.learner_preference.audio_captioning", "0")]:
        case(v, f"{element} default", get(element), "0", default)
    for value in ["en", "fr-CA", "zh-Hant-TW", "x-klingon", ""]:
        round_trip(v, "cmi.learner_preference.language", value)
    for value in ["en_US", "english!", "fr-", "-CA"]:
        bad_set(v, "cmi.learner_preference.language", value, "406")
    for value in ["-1", "0", "1"]:
        round_trip(v, "cmi.learner_preference.audio_captioning", value)
    for value in ["2", "on", "1.0"]:
        bad_set(v, "cmi.learner_preference.audio_captioning", value, "406")
    case(v, "preferences from launch", get("cmi.learner_preference.language"), "0", "de",
         launch={"learner_preferences": {"language": "de", "audio_level": "0.3"}})
    case(v, "preference from launch", get("cmi.learner_preference.audio_level"), "0", "0.3",
         launch={"learner_preferences": {"language": "de", "audio_level": "0.3"}})

    # comments from learner
    cl = "cmi.comments_from_learner"
    round_trip(v, f"{cl}.0.comment", "Nice")
    round_trip(v, f"{cl}.0.comment", "{lang=fr}Très bien")
    round_trip(v, f"{cl}.0.location", "page 4")
    round_trip(v, f"{cl}.0.timestamp", "2005-03-04T10:11:12.5+01:00")
    for value in ["2005", "2005-03", "2005-03-04", "2005-03-04T10", "2005-03-04T10:11", "2038-12-31T23:59:59Z",
                  "1970-01-01T00:00:00-05"]:
        ok_set(v, f"{cl}.0.timestamp", value)
    for value in ["2005-02-29", "1969-12-31", "2039-01-01", "2005-13-01", "2005-01-32", "2005-01-01T24:00",
                  "2005-01-01T10:60", "2005-01-01T10:00:60", "2005-01-01 10:00:00", "05-01-01",
                  "2005-01-01T10Z", "2005-01-01T10:00:00.123", "2005-01-01T10:00:00+5", "now"]:
        bad_set(v, f"{cl}.0.timestamp", value, "406")
    for value in ["{lang=}Nice", "{lang=12}Nice", "{lang=en-}Nice"]:
        bad_set(v, f"{cl}.0.comment", value, "406")
    round_trip(v, f"{cl}.0.comment", "{other=x}text", label="unknown delimiter is text")
    round_trip(v, f"{cl}.0.comment", "{lang=en", label="unclosed delimiter is text")
    case(v, "comment count after append", get(f"{cl}._count"), "0", "1", setup=[init(), put(f"{cl}.0.comment", "a")])
    case(v, "comment record fields start uninitialized", get(f"{cl}.0.location"), "403", "",
         setup=[init(), put(f"{cl}.0.comment", "a")])
    bad_set(v, f"{cl}.1.comment", "b", "351", label="comment index skips a record")
    case(v, "comment index beyond count", get(f"{cl}.0.comment"), "301", "")
    ok_set(v, f"{cl}.1.location", "p2", setup=[init(), put(f"{cl}.0.comment", "a")], label="append a second comment")

    # comments from LMS
    lms = {"comments_from_lms": [{"comment": "Read chapter 2", "location": "ch2", "timestamp": "2005-01-01T00:00:00"},
                                 {"comment": "{lang=de}Gut"}]}
    case(v, "comments from lms count", get("cmi.comments_from_lms._count"), "0", "2", launch=lms)
    case(v, "comment from lms", get("cmi.comments_from_lms.0.comment"), "0", "Read chapter 2", launch=lms)
    case(v, "comment location from lms", get("cmi.comments_from_lms.0.location"), "0", "ch2", launch=lms)
    case(v, "comment timestamp from lms", get("cmi.comments_from_lms.0.timestamp"), "0", "2005-01-01T00:00:00", launch=lms)
    case(v, "localized comment from lms", get("cmi.comments_from_lms.1.comment"), "0", "{lang=de}Gut", launch=lms)
    case(v, "missing lms comment field", get("cmi.comments_from_lms.1.timestamp"), "403", "", launch=lms)
    case(v, "lms comment index beyond count", get("cmi.comments_from_lms.2.comment"), "301", "", launch=lms)
    bad_set(v, "cmi.comments_from_lms.0.comment", "x", "404", launch=lms, label="set lms comment")
    bad_set(v, "cmi.comments_from_lms.2.comment", "x", "404", launch=lms, label="append lms comment")

    # objectives
    ob = "cmi.objectives"
    with_obj = [init(), put(f"{ob}.0.id", "obj-1")]
    round_trip(v, f"{ob}.0.id", "urn:example:objective:1")
    round_trip(v, f"{ob}.0.id", "http://example.com/objectives/1")
    for value in ["", "has space", "a{b}", "urn:", "bad%zz"]:
        bad_set(v, f"{ob}.0.id", value, "406")
    ok_set(v, f"{ob}.0.id", "obj-1", setup=with_obj, label="objective id set again to the same value")
    bad_set(v, f"{ob}.0.id", "obj-2", "351", setup=with_obj, label="objective id is write-once")
    bad_set(v, f"{ob}.1.id", "obj-1", "351", setup=with_obj, label="objective ids are unique")
    bad_set(v, f"{ob}.2.id", "obj-3", "351", setup=with_obj, label="objective index skips a record")
    case(v, "objective index beyond count", get(f"{ob}.1.id"), "301", "", setup=with_obj)
    for field in ["score.scaled", "score.raw", "success_status", "completion_status", "progress_measure", "description"]:
        value = {"score.scaled": "0.5", "score.raw": "5", "success_status": "passed",
                 "completion_status": "completed", "progress_measure": "0.5", "description": "Goal"}[field]
        bad_set(v, f"{ob}.0.{field}", value, "408", label=f"objective {field} before its id")
        round_trip(v, f"{ob}.0.{field}", value, setup=with_obj)
    for field in ["score.scaled", "score.raw", "score.min", "score.max", "progress_measure", "description"]:
        case(v, f"objective {field} not initialized", get(f"{ob}.0.{field}"), "403", "", setup=with_obj)
    for field in ["success_status", "completion_status"]:
        case(v, f"objective {field} starts unknown", get(f"{ob}.0.{field}"), "0", "unknown", setup=with_obj)
    bad_set(v, f"{ob}.0.score.scaled", "1.1", "407", setup=with_obj)
    bad_set(v, f"{ob}.0.progress_measure", "2", "407", setup=with_obj)
    bad_set(v, f"{ob}.0.success_status", "done", "406", setup=with_obj)
    bad_set(v, f"{ob}.0.completion_status", "passed", "406", setup=with_obj)
    round_trip(v, f"{ob}.0.score.raw", "-50", setup=with_obj, label="objective raw score has no range")
    round_trip(v, f"{ob}.0.description", "{lang=es}Objetivo", setup=with_obj)
    manifest = {"objective_ids": ["primary", "secondary"]}
    case(v, "objectives from the manifest: count", get(f"{ob}._count"), "0", "2", launch=manifest)
    case(v, "objectives from the manifest: id", get(f"{ob}.1.id"), "0", "secondary", launch=manifest)
    bad_set(v, f"{ob}.0.id", "other", "351", launch=manifest, label="manifest objective id is write-once")
    ok_set(v, f"{ob}.0.success_status", "passed", launch=manifest, label="manifest objective is writable")
    bad_set(v, f"{ob}.2.id", "primary", "351", launch=manifest, label="manifest objective id is unique")
    ok_set(v, f"{ob}.2.id", "third", launch=manifest, label="append after manifest objectives")
    # The sequencer's starting values for manifest objectives (objective_status):
    # applied to a record when the launch creates it, never over stored data.
    seeded = {"objective_ids": ["primary", "secondary"],
              "objective_status": [
                  {"id": "primary", "success_status": "passed", "completion_status": "completed",
                   "score_scaled": "0.8", "score_raw": "8", "score_min": "0", "score_max": "10",
                   "progress_measure": "1"},
                  {"id": "elsewhere", "success_status": "failed"}]}
    for field, value in [("success_status", "passed"), ("completion_status", "completed"),
                         ("score.scaled", "0.8"), ("score.raw", "8"), ("score.min", "0"),
                         ("score.max", "10"), ("progress_measure", "1")]:
        case(v, f"seeded manifest objective {field}", get(f"{ob}.0.{field}"), "0", value, launch=seeded)
    case(v, "unseeded manifest objective starts unknown", get(f"{ob}.1.success_status"), "0", "unknown",
         launch=seeded)
    case(v, "unseeded manifest objective has no score", get(f"{ob}.1.score.scaled"), "403", "", launch=seeded)
    case(v, "a seed without a manifest objective adds no record", get(f"{ob}._count"), "0", "2",
         launch=seeded)
    ok_set(v, f"{ob}.0.success_status", "failed", launch=seeded, label="seeded objective is writable")
    case(v, "a seed never overwrites a resumed objective", get(f"{ob}.0.success_status"), "0", "failed",
         launch=seeded, setup=[init(), put(f"{ob}.0.success_status", "failed"), put("cmi.exit", "suspend"),
                               term(), relaunch(), init()])
    case(v, "a seed applies to a manifest objective added on resume", get(f"{ob}.1.success_status"), "0",
         "passed", launch={"objective_ids": ["other"]},
         setup=[init(), put("cmi.exit", "suspend"), term(),
                relaunch(objective_ids=["other", "primary"], objective_status=seeded["objective_status"]),
                init()])

    # interactions
    it = "cmi.interactions.0"
    with_id = [init(), put(f"{it}.id", "q1")]
    round_trip(v, f"{it}.id", "q1")
    round_trip(v, f"{it}.id", "urn:example:q:1")
    for value in ["", "q 1", "q<1>"]:
        bad_set(v, f"{it}.id", value, "406")
    ok_set(v, "cmi.interactions.1.id", "q1", setup=with_id, label="interaction ids may repeat")
    bad_set(v, "cmi.interactions.2.id", "q3", "351", setup=with_id, label="interaction index skips a record")
    case(v, "interaction index beyond count", get("cmi.interactions.1.id"), "301", "", setup=with_id)
    for field, value in [("type", "choice"), ("timestamp", "2005-01-01"), ("weighting", "1"),
                         ("result", "correct"), ("latency", "PT5S"), ("description", "Q"),
                         ("objectives.0.id", "o1")]:
        bad_set(v, f"{it}.{field}", value, "408", label=f"interaction {field} before its id")
    for field, value in [("learner_response", "a"), ("correct_responses.0.pattern", "a")]:
        bad_set(v, f"{it}.{field}", value, "408", label=f"interaction {field} before its id")
        bad_set(v, f"{it}.{field}", value, "408", setup=with_id, label=f"interaction {field} before its type")
    case(v, "refused field appends no interaction", get("cmi.interactions._count"), "0", "0",
         setup=[init(), expecting(put(f"{it}.type", "choice"), "408", "false")])
    for field in ["type", "timestamp", "weighting", "learner_response", "result", "latency", "description"]:
        case(v, f"interaction {field} not initialized", get(f"{it}.{field}"), "403", "", setup=with_id)
    for value in ["true-false", "choice", "fill-in", "long-fill-in", "likert", "matching", "performance",
                  "sequencing", "numeric", "other"]:
        round_trip(v, f"{it}.type", value, setup=with_id)
    for value in ["True-False", "multiple-choice", ""]:
        bad_set(v, f"{it}.type", value, "406", setup=with_id)
    round_trip(v, f"{it}.timestamp", "2005-01-01T10:00:00Z", setup=with_id)
    bad_set(v, f"{it}.timestamp", "yesterday", "406", setup=with_id)
    for value in ["1", "-2.5", "0"]:
        round_trip(v, f"{it}.weighting", value, setup=with_id)
    bad_set(v, f"{it}.weighting", "heavy", "406", setup=with_id)
    for value in ["correct", "incorrect", "unanticipated", "neutral", "0.5", "-3"]:
        round_trip(v, f"{it}.result", value, setup=with_id)
    for value in ["wrong", "Correct", ""]:
        bad_set(v, f"{it}.result", value, "406", setup=with_id)
    round_trip(v, f"{it}.latency", "PT1M5.25S", setup=with_id)
    bad_set(v, f"{it}.latency", "65", "406", setup=with_id)
    round_trip(v, f"{it}.description", "{lang=en-GB}Colour question", setup=with_id)
    bad_set(v, f"{it}.description", "{lang=#}x", "406", setup=with_id)
    round_trip(v, f"{it}.objectives.0.id", "obj-1", setup=with_id)
    bad_set(v, f"{it}.objectives.0.id", "obj 1", "406", setup=with_id)
    with_iobj = with_id + [put(f"{it}.objectives.0.id", "obj-1")]
    bad_set(v, f"{it}.objectives.1.id", "obj-1", "351", setup=with_iobj, label="interaction objective ids are unique")
    ok_set(v, f"{it}.objectives.0.id", "obj-1", setup=with_iobj, label="interaction objective id set again")
    ok_set(v, f"{it}.objectives.0.id", "obj-9", setup=with_iobj, label="interaction objective id may change")
    bad_set(v, f"{it}.objectives.2.id", "obj-3", "351", setup=with_iobj, label="interaction objective index skips a record")
    case(v, "interaction objective count", get(f"{it}.objectives._count"), "0", "1", setup=with_iobj)
    ok_set(v, "cmi.interactions.1.objectives.0.id", "obj-1", setup=with_iobj + [put("cmi.interactions.1.id", "q2")],
           label="interaction objective ids are unique per interaction")

    # responses, by type
    responses = {
        "true-false": (["true", "false"], ["t", "1", "True", ""], ["true"], ["yes"]),
        "choice": (["a", "a[,]b[,]c", "", "choice_1[,]choice_2", "a,b"],
                   ["a[,]a", "a[,]", "[,]a", "a b", "a[,][,]b"],
                   ["a[,]b", ""], ["a[,]a"]),
        "fill-in": (["cat", "{lang=de}Katze[,]{lang=fr}chat", "", "a[,][,]b", repeat("w", 251)],
                    ["{lang=!!}x"],
                    ["{case_matters=true}{order_matters=false}cat[,]dog", "{order_matters=true}cat", "plain"],
                    ["{case_matters=maybe}cat", "{order_matters=1}cat"]),
        "long-fill-in": (["{lang=en}A long answer, with commas.", "", "{foo=bar}text"], ["{lang=}x"],
                         ["{case_matters=true}{lang=en}answer", "{lang=fr}réponse"], ["{case_matters=oui}x"]),
        "likert": (["strongly_agree", "3"], ["", "a[,]b", "a b"], ["agree"], [""]),
        "matching": (["1[.]a", "1[.]a[,]2[.]b", ""], ["1[.]", "[.]a", "1.a", "1[.]a[.]b", "1[.]a[,]"],
                     ["1[.]a[,]2[.]b"], ["", "1[.]a[,]"]),
        "performance": (["step1[.]answer", "[.]5", "step1[.]", "s1[.]1[:]5[,]s2[.]x"],
                        ["", "[.]", "noseparator", "s 1[.]x", "s1[.]5[:]1", "s1[.]a[.]b"],
                        ["{order_matters=false}s1[.]a[,]s2[.]b", "s1[.][:]10"], ["[.]", "s1[.]9[:]3"]),
        "sequencing": (["a[,]b[,]c", "c"], ["", "a[,]", "a[,][,]b", "a b"], ["a[,]b"], ["", "a[,]"]),
        "numeric": (["3.14", "-2", "0"], ["abc", "1[:]2", "", "3,5"], ["1[:]5", "[:]5", "1[:]", "2.5[:]2.5"],
                    ["5", "5[:]1", "a[:]b", "1[:]2[:]3"]),
        "other": (["anything at all", "", repeat("o", 4001)], [], ["whatever"], []),
    }
    for kind, (good_lr, bad_lr, good_pattern, bad_pattern) in responses.items():
        typed = with_id + [put(f"{it}.type", kind)]
        for value in good_lr:
            round_trip(v, f"{it}.learner_response", value, setup=typed, label=f"{kind} learner_response {short(value)!r}")
        for value in bad_lr:
            bad_set(v, f"{it}.learner_response", value, "406", setup=typed, label=f"{kind} refuses learner_response {short(value)!r}")
        for value in good_pattern:
            round_trip(v, f"{it}.correct_responses.0.pattern", value, setup=typed,
                       label=f"{kind} pattern {short(value)!r}")
        for value in bad_pattern:
            bad_set(v, f"{it}.correct_responses.0.pattern", value, "406", setup=typed,
                    label=f"{kind} refuses pattern {short(value)!r}")
    for kind, first in [("true-false", "true"), ("likert", "agree"), ("numeric", "1[:]2"), ("other", "x")]:
        typed = with_id + [put(f"{it}.type", kind), put(f"{it}.correct_responses.0.pattern", first)]
        bad_set(v, f"{it}.correct_responses.1.pattern", first, "351", setup=typed,
                label=f"{kind} has one correct response")
        ok_set(v, f"{it}.correct_responses.0.pattern", first, setup=typed, label=f"{kind} pattern may be replaced")
    choice = with_id + [put(f"{it}.type", "choice"), put(f"{it}.correct_responses.0.pattern", "a[,]b")]
    bad_set(v, f"{it}.correct_responses.1.pattern", "b[,]a", "351", setup=choice,
            label="choice patterns are unique as sets")
    ok_set(v, f"{it}.correct_responses.1.pattern", "a[,]c", setup=choice, label="a second choice pattern")
    bad_set(v, f"{it}.correct_responses.2.pattern", "c", "351", setup=choice, label="choice pattern index skips a record")
    seq = with_id + [put(f"{it}.type", "sequencing"), put(f"{it}.correct_responses.0.pattern", "a[,]b")]
    bad_set(v, f"{it}.correct_responses.1.pattern", "a[,]b", "351", setup=seq, label="sequencing patterns are unique")
    ok_set(v, f"{it}.correct_responses.1.pattern", "b[,]a", setup=seq, label="sequencing pattern in another order")
    fill = with_id + [put(f"{it}.type", "fill-in"), put(f"{it}.correct_responses.0.pattern", "cat")]
    ok_set(v, f"{it}.correct_responses.1.pattern", "cat", setup=fill, label="fill-in patterns may repeat")
    many = with_id + [put(f"{it}.type", "matching")] + [
        put(f"{it}.correct_responses.{i}.pattern", f"{i}[.]a") for i in range(5)]
    ok_set(v, f"{it}.correct_responses.5.pattern", "5[.]a", setup=many, label="matching patterns beyond the spm")
    changed = with_id + [put(f"{it}.type", "choice"), put(f"{it}.learner_response", "a"),
                         put(f"{it}.correct_responses.0.pattern", "a"), put(f"{it}.type", "true-false")]
    case(v, "a new type drops the correct responses", get(f"{it}.correct_responses._count"), "0", "0", setup=changed)
    case(v, "a new type drops the learner response", get(f"{it}.learner_response"), "403", "", setup=changed)
    same = with_id + [put(f"{it}.type", "choice"), put(f"{it}.learner_response", "a"), put(f"{it}.type", "choice")]
    case(v, "the same type keeps the learner response", get(f"{it}.learner_response"), "0", "a", setup=same)
    case(v, "interactions count", get("cmi.interactions._count"), "0", "2",
         setup=with_id + [put("cmi.interactions.1.id", "q2")])

    # navigation
    case(v, "adl.nav.request starts _none_", get("adl.nav.request"), "0", "_none_")
    for value in ["continue", "previous", "exit", "exitAll", "abandon", "abandonAll", "suspendAll", "_none_",
                  "{target=intro}choice", "{target=urn:x:y}choice", "{target=module.2}jump"]:
        round_trip(v, "adl.nav.request", value)
    for value in ["choice", "jump", "{target=}choice", "{target=a b}choice", "Continue", "next", "{target=x}exit"]:
        bad_set(v, "adl.nav.request", value, "406")
    bad_set(V3, "adl.nav.request", "{target=module.2}jump", "406", label="jump needs the 4th edition")
    round_trip(V3, "adl.nav.request", "{target=intro}choice")
    for element in ["adl.nav.request_valid.continue", "adl.nav.request_valid.previous"]:
        case(v, f"{element} starts unknown", get(element), "0", "unknown")
        bad_set(v, element, "true", "404")
    nav = {"nav_validity": {"continue": "true", "previous": "false", "choice": {"intro": "true", "quiz": "false"},
                            "jump": {"end": "true"}}}
    case(v, "continue validity from the host", get("adl.nav.request_valid.continue"), "0", "true", launch=nav)
    case(v, "previous validity from the host", get("adl.nav.request_valid.previous"), "0", "false", launch=nav)
    case(v, "choice validity", get("adl.nav.request_valid.choice.{target=intro}"), "0", "true", launch=nav)
    case(v, "choice validity false", get("adl.nav.request_valid.choice.{target=quiz}"), "0", "false", launch=nav)
    case(v, "choice validity of an unknown target", get("adl.nav.request_valid.choice.{target=other}"), "0",
         "unknown", launch=nav)
    case(v, "choice validity of a dotted target", get("adl.nav.request_valid.choice.{target=mod.1}"), "0", "unknown")
    case(v, "jump validity", get("adl.nav.request_valid.jump.{target=end}"), "0", "true", launch=nav)
    case(v, "choice validity without target", get("adl.nav.request_valid.choice"), "301", "")
    case(v, "choice validity with empty target", get("adl.nav.request_valid.choice.{target=}"), "301", "")
    case(v, "choice validity with another delimiter", get("adl.nav.request_valid.choice.{id=intro}"), "301", "")
    case(v, "choice validity with a plain name", get("adl.nav.request_valid.choice.intro"), "401", "")
    case(v, "continue takes no target", get("adl.nav.request_valid.continue.{target=x}"), "401", "")
    bad_set(v, "adl.nav.request_valid.choice.{target=intro}", "true", "404", label="set choice validity")
    bad_set(v, "adl.nav.request_valid.choice", "true", "404", label="set choice validity without target")
    bad_set(v, "adl.nav.request_valid.choice.{id=x}", "true", "404", label="set choice validity with another delimiter")
    case(V3, "jump validity needs the 4th edition", get("adl.nav.request_valid.jump.{target=end}"), "401", "")
    case(v, "unknown nav element", get("adl.nav.bogus"), "401", "")

    # shared data
    shared = {"shared_data": [{"id": "bucket-a", "store": "hello"}, {"id": "bucket-b"},
                              {"id": "read-only", "store": "r", "writable": False},
                              {"id": "write-only", "readable": False}]}
    case(v, "shared data count", get("adl.data._count"), "0", "4", launch=shared)
    case(v, "shared data id", get("adl.data.1.id"), "0", "bucket-b", launch=shared)
    case(v, "shared data store", get("adl.data.0.store"), "0", "hello", launch=shared)
    case(v, "empty shared data store", get("adl.data.1.store"), "403", "", launch=shared)
    round_trip(v, "adl.data.1.store", "state", launch=shared, label="write shared data")
    round_trip(v, "adl.data.0.store", repeat("s", 64000), launch=shared, label="shared data of 64000")
    round_trip(v, "adl.data.0.store", repeat("s", 64001), launch=shared, label="shared data above its spm is kept")
    bad_set(v, "adl.data.2.store", "x", "404", launch=shared, label="shared data without write permission")
    case(v, "shared data without read permission", get("adl.data.3.store"), "405", "", launch=shared)
    ok_set(v, "adl.data.3.store", "x", launch=shared, label="write-only shared data")
    bad_set(v, "adl.data.0.id", "other", "404", launch=shared, label="shared data id is read-only")
    bad_set(v, "adl.data.4.store", "x", "351", launch=shared, label="shared data cannot be appended")
    bad_set(v, "adl.data.0.store", "x", "351", label="no shared data to write")
    case(v, "shared data index beyond count", get("adl.data.4.id"), "301", "", launch=shared)
    case(V3, "shared data needs the 4th edition", get("adl.data._count"), "401", "")
    case(V3, "shared data store needs the 4th edition", get("adl.data.0.store"), "401", "")


def scorm2004_semantics():
    v = V4
    # completion and success evaluation (RTE 4.2.4 / 4.2.22)
    both = {"completion_threshold": "0.6", "scaled_passing_score": "0.6"}
    case(v, "threshold without progress gives unknown", get("cmi.completion_status"), "0", "unknown", launch=both,
         setup=[init(), put("cmi.completion_status", "completed")])
    case(v, "passing score without scaled score gives unknown", get("cmi.success_status"), "0", "unknown",
         launch=both, setup=[init(), put("cmi.success_status", "passed")])
    case(v, "progress at the threshold completes", get("cmi.completion_status"), "0", "completed", launch=both,
         setup=[init(), put("cmi.progress_measure", "0.6")])
    case(v, "progress below the threshold is incomplete", get("cmi.completion_status"), "0", "incomplete",
         launch=both, setup=[init(), put("cmi.completion_status", "completed"), put("cmi.progress_measure", "0.5")])
    case(v, "scaled score at the passing score passes", get("cmi.success_status"), "0", "passed", launch=both,
         setup=[init(), put("cmi.success_status", "failed"), put("cmi.score.scaled", "0.6")])
    case(v, "scaled score below the passing score fails", get("cmi.success_status"), "0", "failed", launch=both,
         setup=[init(), put("cmi.success_status", "passed"), put("cmi.score.scaled", "0.59")])
    case(v, "negative passing score", get("cmi.success_status"), "0", "passed",
         launch={"scaled_passing_score": "-0.5"}, setup=[init(), put("cmi.score.scaled", "-0.5")])
    case(v, "without threshold the set status counts", get("cmi.completion_status"), "0", "incomplete",
         setup=[init(), put("cmi.progress_measure", "1"), put("cmi.completion_status", "incomplete")])
    case(v, "without passing score the set status counts", get("cmi.success_status"), "0", "failed",
         setup=[init(), put("cmi.score.scaled", "1"), put("cmi.success_status", "failed")])
    case(v, "evaluated status is stored at Terminate", get("cmi.completion_status"), "0", "completed",
         launch={"completion_threshold": "0.8"},
         setup=[init(), put("cmi.completion_status", "incomplete"), put("cmi.progress_measure", "0.9"),
                put("cmi.exit", "suspend"), term(), relaunch(completion_threshold=None), init()])
    case(v, "evaluated success is stored at Terminate", get("cmi.success_status"), "0", "failed",
         launch={"scaled_passing_score": "0.8"},
         setup=[init(), put("cmi.success_status", "passed"), put("cmi.score.scaled", "0.1"),
                put("cmi.exit", "suspend"), term(), relaunch(scaled_passing_score=None), init()])
    case(v, "unknown success is stored at Terminate", get("cmi.success_status"), "0", "unknown",
         launch={"scaled_passing_score": "0.8"},
         setup=[init(), put("cmi.success_status", "passed"), put("cmi.exit", "suspend"), term(),
                relaunch(scaled_passing_score=None), init()])

    # entry, exit and resume (RTE 4.2.8, digest 3.7)
    suspended = [init(), put("cmi.location", "p2"), put("cmi.suspend_data", "visit=2"),
                 put("cmi.interactions.0.id", "q1"), put("cmi.objectives.0.id", "o1"),
                 put("cmi.session_time", "PT1M"), put("cmi.exit", "suspend"), term(), relaunch(), init()]
    case(v, "resume: entry", get("cmi.entry"), "0", "resume", setup=suspended)
    case(v, "resume: location", get("cmi.location"), "0", "p2", setup=suspended)
    case(v, "resume: suspend_data", get("cmi.suspend_data"), "0", "visit=2", setup=suspended)
    case(v, "resume: interactions", get("cmi.interactions.0.id"), "0", "q1", setup=suspended)
    case(v, "resume: objectives", get("cmi.objectives.0.id"), "0", "o1", setup=suspended)
    case(v, "resume: total_time", get("cmi.total_time"), "0", "PT1M", setup=suspended)
    case(v, "resume: exit is not carried over", get("cmi.entry"), "0", "ab-initio",
         setup=suspended + [term(), relaunch(), init()])
    case(v, "resume: nav request is reset", get("adl.nav.request"), "0", "_none_",
         setup=[init(), put("adl.nav.request", "continue"), put("cmi.exit", "suspend"), term(), relaunch(), init()])
    case(v, "resume restores 64000 characters exactly", get("cmi.suspend_data"), "0", repeat("z", 64000),
         setup=[init(), put("cmi.suspend_data", repeat("z", 64000)), put("cmi.exit", "suspend"), term(),
                relaunch(), init()])
    case(v, "resume restores 200000 characters with a raised limit", get("cmi.suspend_data"), "0",
         repeat("z", 200000), launch={"suspend_data_limit": 200000},
         setup=[init(), put("cmi.suspend_data", repeat("z", 200000)), put("cmi.exit", "suspend"), term(),
                relaunch(), init()])
    timed = [init(), put("cmi.session_time", "PT1M"), put("cmi.exit", "suspend"), term(), relaunch(), init(),
             put("cmi.session_time", "PT01H059M020S"), put("cmi.exit", "suspend"), term(), relaunch(), init()]
    case(v, "total_time carries seconds and minutes", get("cmi.total_time"), "0", "PT2H20S", setup=timed)
    case(v, "total_time keeps days", get("cmi.total_time"), "0", "P29DT0.5S",
         setup=[init(), put("cmi.session_time", "P0Y029DT0H"), put("cmi.exit", "suspend"), term(), relaunch(),
                init(), put("cmi.session_time", "PT0.5S"), put("cmi.exit", "suspend"), term(), relaunch(), init()])
    case(v, "total_time without session_time", get("cmi.total_time"), "0", "PT1M",
         setup=[init(), put("cmi.session_time", "PT1M"), put("cmi.exit", "suspend"), term(), relaunch(), init(),
                put("cmi.exit", "suspend"), term(), relaunch(), init()])
    for exit_value in ["normal", "", "logout", "time-out"]:
        ended = [init(), put("cmi.location", "p2"), put("cmi.session_time", "PT1M"), put("cmi.exit", exit_value),
                 term(), relaunch(), init()]
        case(v, f"after exit {exit_value!r}: new attempt", get("cmi.entry"), "0", "ab-initio", setup=ended)
        case(v, f"after exit {exit_value!r}: fresh data", get("cmi.location"), "403", "", setup=ended)
        case(v, f"after exit {exit_value!r}: fresh total_time", get("cmi.total_time"), "0", "PT0H0M0S", setup=ended)
    case(v, "without Terminate there is no resume", get("cmi.entry"), "0", "ab-initio",
         setup=[init(), put("cmi.location", "p"), commit(), relaunch(), init()])
    case(v, "suspendAll suspends", get("cmi.entry"), "0", "resume",
         setup=[init(), put("adl.nav.request", "suspendAll"), term(), relaunch(), init()])
    case(v, "suspendAll overrides exit", get("cmi.location"), "0", "p",
         setup=[init(), put("cmi.location", "p"), put("cmi.exit", "normal"), put("adl.nav.request", "suspendAll"),
                term(), relaunch(), init()])
    case(v, "manifest objectives are not duplicated on resume", get("cmi.objectives._count"), "0", "2",
         launch={"objective_ids": ["m1", "m2"]},
         setup=[init(), put("cmi.exit", "suspend"), term(), relaunch(), init()])
    case(v, "new manifest objective is appended on resume", get("cmi.objectives.1.id"), "0", "m2",
         launch={"objective_ids": ["m1"]},
         setup=[init(), put("cmi.exit", "suspend"), term(), relaunch(objective_ids=["m1", "m2"]), init()])
    case(v, "review mode relaunch", get("cmi.mode"), "0", "review",
         setup=[init(), put("cmi.exit", "suspend"), term(), relaunch(mode="review"), init()])
    case(V3, "resume in the 3rd edition", get("cmi.suspend_data"), "0", repeat("y", 4000),
         setup=[init(), put("cmi.suspend_data", repeat("y", 4000)), put("cmi.exit", "suspend"), term(),
                relaunch(), init()])


def main():
    scorm12_state_machine()
    scorm12_keywords()
    scorm12_elements()
    scorm12_semantics()
    scorm2004_state_machine()
    scorm2004_keywords()
    scorm2004_elements()
    scorm2004_semantics()
    document = {
        "format": "AllureConnect run-time conformance table; see README.md in this directory",
        "defaults": {"learner_id": "learner-1", "learner_name": "Doe, Jane"},
        "cases": CASES,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")
    # One case per line: easy to grep, and diffs show the cases that changed.
    with open(path, "w", encoding="utf-8") as out:
        out.write("{\n")
        for key in ["format", "defaults"]:
            out.write(f" {json.dumps(key)}: {json.dumps(document[key], ensure_ascii=False)},\n")
        out.write(' "cases": [\n')
        rows = [json.dumps(row, ensure_ascii=False) for row in CASES]
        out.write(",\n".join(rows))
        out.write("\n ]\n}\n")
    print(f"wrote {len(CASES)} cases to {path}")


if __name__ == "__main__":
    main()
