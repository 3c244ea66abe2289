"""Releases (issue 13): what a release is, as data, and how it is read from a local source.

`manifest` is pure: the manifest format both sides produce byte for byte, release ids and
the provenance record. `source` reads a local directory or a `.tar.gz` artifact into
entries, a manifest and a deterministic tar stream (local file I/O, and git for the id).
`listing` and `prune` are pure too: they read the host's listing of a release root
(releases, current, previous, which processes run which release) and choose what a prune
may delete. The host side (upload, switch, list, prune) is svcctl.scripts.release.
"""
