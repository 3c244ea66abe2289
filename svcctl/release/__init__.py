"""Releases (issue 13): what a release is, as data, and how it is read from a local source.

`manifest` is pure: the manifest format both sides produce byte for byte, release ids and
the provenance record. `source` reads a local directory or a `.tar.gz` artifact into
entries, a manifest and a deterministic tar stream (local file I/O, and git for the id).
The host side (upload, switch) is svcctl.scripts.release.
"""
