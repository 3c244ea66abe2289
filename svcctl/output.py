"""Rendering results for humans and as versioned JSON: the only printer besides cli."""
