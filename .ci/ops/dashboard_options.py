#!/usr/bin/env python3
"""Unknown keys in panel options and field config, which @grafana/schema leaves untyped.

Decodes the dashboard with grafana-foundation-sdk's typed models (panel plugins registered), encodes it
again and lists every key of the file the models dropped: a typo such as `showHeadr` or `fillOpacty`.
usage: dashboard_options.py FILE
"""
import json
import re
import sys

from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.models import dashboard

# Keys Grafana itself writes that the SDK's models do not carry.
KNOWN_GAPS = [r"^\$\.annotations\.list\[\d+\]\.builtIn$"]


def dropped(a, b, path="$"):
    out = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            out += [f"{path}.{k}"] if k not in b else dropped(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            out += dropped(x, y, f"{path}[{i}]")
    return out


def main():
    plugins.register_default_plugins()
    with open(sys.argv[1], encoding="utf-8") as f:
        src = json.load(f)
    model = dashboard.Dashboard.from_json(src)
    encoded = json.dumps(model.to_json(), default=lambda o: o.to_json() if hasattr(o, "to_json") else str(o))
    unknown = [p for p in dropped(src, json.loads(encoded)) if not any(re.match(g, p) for g in KNOWN_GAPS)]
    for p in unknown:
        print(f"unknown key: {p}", file=sys.stderr)
    print(f"dashboard options: {len(model.panels or [])} panels, {len(unknown)} unknown keys")
    sys.exit(1 if unknown else 0)


if __name__ == "__main__":
    main()
