#!/usr/bin/env python3
"""Writes pve-schema/schema/pve-9.1-subset.json: the methods of the Proxmox VE 9.1 API schema that
proxfleet's client uses, without descriptions. Tests read the subset, never ../shared.

Usage: scripts/pve-schema-subset.py [path/to/pve-apidoc-9.1.json]
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "pve-api", "pve-apidoc-9.1.json")
TARGET = os.path.join(ROOT, "pve-schema", "schema", "pve-9.1-subset.json")

METHODS = [
    ("POST", "/access/ticket"),
    ("GET", "/version"),
    ("GET", "/nodes"),
    ("GET", "/nodes/{node}/status"),
    ("GET", "/cluster/resources"),
    ("GET", "/cluster/nextid"),
    ("GET", "/nodes/{node}/qemu"),
    ("POST", "/nodes/{node}/qemu"),
    ("GET", "/nodes/{node}/qemu/{vmid}/status/current"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/start"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/stop"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reboot"),
    ("POST", "/nodes/{node}/qemu/{vmid}/status/reset"),
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"),
    ("GET", "/nodes/{node}/qemu/{vmid}/config"),
    ("POST", "/nodes/{node}/qemu/{vmid}/config"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/config"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/resize"),
    ("DELETE", "/nodes/{node}/qemu/{vmid}"),
    ("POST", "/nodes/{node}/qemu/{vmid}/template"),
    ("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces"),
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata"),
    ("GET", "/nodes/{node}/tasks"),
    ("GET", "/nodes/{node}/tasks/{upid}/status"),
    ("GET", "/nodes/{node}/tasks/{upid}/log"),
    ("DELETE", "/nodes/{node}/tasks/{upid}"),
    ("GET", "/cluster/firewall/groups"),
    ("POST", "/cluster/firewall/groups"),
    ("GET", "/cluster/firewall/groups/{group}"),
    ("POST", "/cluster/firewall/groups/{group}"),
    ("DELETE", "/cluster/firewall/groups/{group}"),
    ("GET", "/cluster/firewall/groups/{group}/{pos}"),
    ("PUT", "/cluster/firewall/groups/{group}/{pos}"),
    ("DELETE", "/cluster/firewall/groups/{group}/{pos}"),
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/options"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/options"),
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules"),
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/rules"),
    ("GET", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"),
    ("PUT", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"),
    ("DELETE", "/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}"),
    ("GET", "/cluster/firewall/macros"),
    ("GET", "/cluster/firewall/refs"),
    ("GET", "/cluster/firewall/options"),
    ("GET", "/cluster/firewall/ipset"),
    ("POST", "/cluster/firewall/ipset"),
    ("GET", "/cluster/firewall/ipset/{name}"),
    ("POST", "/cluster/firewall/ipset/{name}"),
    ("DELETE", "/cluster/firewall/ipset/{name}"),
    ("GET", "/cluster/firewall/ipset/{name}/{cidr}"),
    ("PUT", "/cluster/firewall/ipset/{name}/{cidr}"),
    ("DELETE", "/cluster/firewall/ipset/{name}/{cidr}"),
    ("GET", "/cluster/firewall/aliases"),
    ("POST", "/cluster/firewall/aliases"),
    ("GET", "/cluster/firewall/aliases/{name}"),
    ("PUT", "/cluster/firewall/aliases/{name}"),
    ("DELETE", "/cluster/firewall/aliases/{name}"),
    ("GET", "/nodes/{node}/storage"),
    ("GET", "/nodes/{node}/storage/{storage}/status"),
    ("GET", "/nodes/{node}/storage/{storage}/content"),
    ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}"),
    ("POST", "/nodes/{node}/vzdump"),
    ("GET", "/nodes/{node}/storage/{storage}/content/{volume}"),
    ("PUT", "/nodes/{node}/storage/{storage}/content/{volume}"),
    ("GET", "/nodes/{node}/storage/{storage}/prunebackups"),
    ("DELETE", "/nodes/{node}/storage/{storage}/prunebackups"),
    ("GET", "/nodes/{node}/vzdump/extractconfig"),
    ("GET", "/cluster/backup"),
]

KEEP = {"type", "optional", "enum", "minimum", "maximum", "maxLength", "minLength", "pattern",
        "typetext", "default", "additionalProperties"}


def strip(schema):
    """The schema without prose; nested properties/items kept; property-string formats noted."""
    if not isinstance(schema, dict):
        return schema
    out = {k: v for k, v in schema.items() if k in KEEP}
    fmt = schema.get("format")
    if isinstance(fmt, str):
        out["format"] = fmt
    elif isinstance(fmt, dict):
        out["format"] = "property-string"
    if "properties" in schema:
        out["properties"] = {k: strip(v) for k, v in schema["properties"].items()}
    if "items" in schema:
        out["items"] = strip(schema["items"])
    return out


def main():
    tree = json.load(open(SOURCE))
    index = {}

    def walk(nodes):
        for n in nodes:
            index[n["path"]] = n
            walk(n.get("children", []))

    walk(tree)
    subset = {}
    for method, path in METHODS:
        info = index[path]["info"][method]
        subset[f"{method} {path}"] = {
            "parameters": strip(info.get("parameters", {})),
            "returns": strip(info.get("returns", {})),
            "allowtoken": info.get("allowtoken", 1),
        }
    with open(TARGET, "w") as f:
        json.dump(subset, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(subset)} methods to {os.path.relpath(TARGET, ROOT)}")


if __name__ == "__main__":
    main()
