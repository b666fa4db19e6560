#!/usr/bin/env python3
"""Answers questions about JSON documents for the scenarios, one process for a
whole scenario (under TCG a jq start costs most of a second, and a scenario
asks dozens of questions).

    jsonq.py            reads requests on stdin, one per line:
                        json<TAB>FILE<TAB>EXPR    FILE holds one JSON document
                        lines<TAB>FILE<TAB>EXPR   one per line (monitor's events),
                                                  read as a list

EXPR is a Python expression over `d`, the document; objects also read as
attributes (d.services[0].stats.conns), and one(...) is the single value of
an iterable (an error if there are none or several). The answer follows
jq -r -c: a string as it is, anything else as compact JSON. A line "." ends
each answer; a failing expression answers "ERROR: ..."."""
import collections
import json
import sys


class Obj(dict):
    """A JSON object whose keys also read as attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


def one(values):
    """The only value of an iterable: a question that expects exactly one
    match says so when there are none or several."""
    values = list(values)
    if len(values) != 1:
        raise ValueError(f"{len(values)} matches, expected one")
    return values[0]


def load(mode, path):
    with open(path) as f:
        if mode == "lines":
            return [json.loads(line, object_hook=Obj) for line in f if line.strip()]
        return json.load(f, object_hook=Obj)


def show(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def answer(line):
    mode, path, expr = line.rstrip("\n").split("\t", 2)
    try:
        scope = {"d": load(mode, path), "one": one, "Counter": collections.Counter}
        return show(eval(expr, scope))  # the scenarios' own expressions
    except Exception as e:  # any failure is the answer, not the end
        return f"ERROR: {type(e).__name__}: {e} (in {expr!r})"


for request in sys.stdin:
    print(answer(request), ".", sep="\n", flush=True)
