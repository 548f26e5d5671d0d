"""``dllm plugins``: every installed plugin, its version, what it registered and its status."""

from __future__ import annotations

import argparse
import json

from dllm_core.registry import PluginInfo, get_registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show only this plugin (entry-point or distribution name)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")


def _registered_text(info: PluginInfo) -> str:
    if info.error:
        return f"{info.status.upper()}: {info.error}"
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registered.items()) or "-"


def format_table(plugins: list[PluginInfo]) -> str:
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "STATUS", "REGISTERED")]
    rows += [(p.name, p.distribution or "-", p.version or "-", p.status, _registered_text(p)) for p in plugins]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows
    )


def run(args: argparse.Namespace) -> int:
    host = get_registry()
    plugins = [host.plugin(args.name)] if args.name else host.plugins
    if args.json:
        print(json.dumps([p.to_json() for p in plugins], indent=2))
    else:
        print(format_table(plugins))
    return 0
