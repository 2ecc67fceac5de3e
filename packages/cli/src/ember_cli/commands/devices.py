"""``ember devices``: every backend, available or not and why, and its devices."""

from __future__ import annotations

import json

from ..output import out
from . import add_parser

# Backends ember knows of that install separately: device type -> (backend name, package).
OPTIONAL = {"cuda": ("cuda", "ember-backend-cuda"), "mps": ("mps", "ember-backend-mps")}


def configure(subparsers) -> None:
    p = add_parser(subparsers, "devices", "list backends and devices",
                   "Every registered backend: the device types it serves, its priority, whether it is\n"
                   "available here (and why not), and its devices. Backends that install separately\n"
                   "and are missing are listed with the package to install.",
                   "  ember devices\n  ember devices --json\n")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def collect() -> list[dict]:
    from ember.device import backends

    rows = backends()
    served = {t for r in rows for t in r["device_types"]}
    for device_type, (name, package) in OPTIONAL.items():
        if device_type not in served:
            rows.append({"name": name, "plugin": None, "device_types": (device_type,), "priority": None,
                         "available": False, "reason": f"not installed (pip install {package})", "devices": []})
    for r in rows:
        r["device_types"] = list(r["device_types"])
    return rows


def run(args) -> int:
    from ember.device import default_device

    rows = collect()
    if args.json:
        out(json.dumps({"default_device": str(default_device()), "backends": rows}, indent=2))
        return 0
    for r in rows:
        state = "available" if r["available"] else "unavailable"
        plugin = f", plugin {r['plugin']}" if r["plugin"] else ""
        prio = f", priority {r['priority']}" if r["priority"] is not None else ""
        out(f"{r['name']}  [{', '.join(r['device_types'])}]  {state}{plugin}{prio}")
        if not r["available"]:
            out(f"    why: {r['reason']}")
        for i, d in enumerate(r["devices"]):
            out(f"    {i}: {d}")
    out(f"default device: {default_device()}")
    return 0
