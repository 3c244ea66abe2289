"""inventory.yaml -> validated specs (no I/O beyond reading the file it is given)."""

from svcctl.inventory.loader import (
    DEFAULT_NAME,
    ENV_VAR,
    MANAGED_PLIST_KEYS,
    load_inventory,
    parse_inventory,
    resolve_inventory_path,
)

__all__ = [
    "DEFAULT_NAME",
    "ENV_VAR",
    "MANAGED_PLIST_KEYS",
    "load_inventory",
    "parse_inventory",
    "resolve_inventory_path",
]
