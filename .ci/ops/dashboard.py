#!/usr/bin/env python3
"""Checks and query extraction for the Grafana dashboard (grafana/ccr-sentinel.json).

usage:
  dashboard.py lint FILE      structural checks the @grafana/schema types cannot express
  dashboard.py rules FILE     every PromQL expression as a recording rule, for `promtool check rules`
  dashboard.py queries FILE [VAR=VALUE...]
                              one JSON object per line: {"panel": title, "ref": refId, "expr": PromQL}
                              with the dashboard variables set to "All" or to the values given, for running
                              against Prometheus

Grafana variables are substituted the way Grafana does with "All" selected (regex `.*`), and
$__rate_interval / $__interval / $__range by a fixed duration.
"""
import json
import re
import sys

VARIABLES = ("datasource", "follower_cluster", "remote_cluster", "follower_index")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def all_panels(dash):
    """Top-level panels and the panels nested in collapsed rows."""
    for p in dash.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def panel_queries(dash):
    """(panel title, refId, expr) for every Prometheus query of every panel."""
    for p in all_panels(dash):
        for t in p.get("targets", []) or []:
            if "expr" in t:
                yield p.get("title", "?"), t.get("refId", "?"), t["expr"]


def variable_queries(dash):
    """The metric selector inside each label_values(...) variable query."""
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", q or "", re.S)
        if not m:
            raise SystemExit(f"variable {v.get('name')}: expected label_values(selector, label), got {q!r}")
        yield v["name"], m.group(1), m.group(2)


def substitute(expr, duration="1m", values=None):
    """Sets the variables to "All" (`.*`), or to the single values given (regex-escaped, as Grafana does)."""
    values = values or {}

    def var(m):
        name = m.group(1)
        if name not in VARIABLES:
            return m.group(0)
        return re.escape(values[name]).replace("\\", "\\\\") if name in values else ".*"

    expr = re.sub(r"\$__(rate_interval|interval|range)\b", duration, expr)
    expr = re.sub(r"\$\{?(\w+)(?::\w+)?\}?", var, expr)
    if "$" in expr:
        raise SystemExit(f"unknown variable left in {expr!r}")
    return expr


def lint(dash):
    problems = []
    names = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
    for want in VARIABLES:
        if want not in names:
            problems.append(f"missing dashboard variable ${want}")
    ds_vars = [v for v in dash.get("templating", {}).get("list", []) if v.get("type") == "datasource"]
    if not ds_vars or ds_vars[0].get("query") != "prometheus":
        problems.append("the datasource variable must be of type datasource with query 'prometheus'")
    ids = {}
    boxes = []
    for p in all_panels(dash):
        title = p.get("title", "?")
        pid = p.get("id")
        if pid in ids:
            problems.append(f"panel id {pid} used by {ids[pid]!r} and {title!r}")
        ids[pid] = title
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"panel {title!r}: gridPos needs integer x, y, w, h")
            continue
        if g["x"] < 0 or g["w"] <= 0 or g["x"] + g["w"] > 24:
            problems.append(f"panel {title!r}: gridPos outside the 24 columns")
        for other, og in boxes:
            if g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"] and \
               g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]:
                problems.append(f"panels {other!r} and {title!r} overlap")
        boxes.append((title, g))
        if p.get("type") == "row":
            continue
        if not p.get("description"):
            problems.append(f"panel {title!r} has no description")
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"panel {title!r} does not use the $datasource variable")
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"panel {title!r} has no query")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            problems.append(f"panel {title!r} has duplicate refIds {refs}")
        for t in targets:
            if not t.get("expr"):
                problems.append(f"panel {title!r} query {t.get('refId')} has no expr")
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(f"panel {title!r} query {t.get('refId')} does not use the $datasource variable")
    return problems


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("lint", "rules", "queries") or \
            (len(sys.argv) > 3 and sys.argv[1] != "queries"):
        raise SystemExit(__doc__)
    cmd, dash = sys.argv[1], load(sys.argv[2])
    if cmd == "lint":
        problems = lint(dash)
        for p in problems:
            print(f"dashboard: {p}", file=sys.stderr)
        n = sum(1 for _ in panel_queries(dash))
        print(f"dashboard: {len(list(all_panels(dash)))} panels, {n} queries, {len(problems)} problems")
        sys.exit(1 if problems else 0)
    if cmd == "rules":
        print("groups:\n  - name: dashboard-queries\n    rules:")
        i = 0
        for title, ref, expr in panel_queries(dash):
            print(f"      # panel {title!r} query {ref}")
            print(f"      - record: dashboard_query_{i}\n        expr: {json.dumps(substitute(expr, '5m'))}")
            i += 1
        for name, selector, _label in variable_queries(dash):
            print(f"      # variable ${name}")
            print(f"      - record: dashboard_query_{i}\n        expr: {json.dumps(substitute(selector, '5m'))}")
            i += 1
    if cmd == "queries":
        values = dict(v.split("=", 1) for v in sys.argv[3:])
        unknown = set(values) - set(VARIABLES)
        if unknown:
            raise SystemExit(f"unknown variables {sorted(unknown)}")
        for title, ref, expr in panel_queries(dash):
            print(json.dumps({"panel": title, "ref": ref, "expr": substitute(expr, values=values)}))
        for name, selector, label in variable_queries(dash):
            print(json.dumps({"panel": f"variable ${name}", "ref": label,
                              "expr": f"count by ({label}) ({substitute(selector, values=values)})"}))


if __name__ == "__main__":
    main()
