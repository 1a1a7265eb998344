"""Application services: one per aggregate (get → act → save), all over one ``CommandPath``.

See docs/code-map.md for how a new aggregate joins them.
"""
