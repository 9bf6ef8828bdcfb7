"""The pictures' colours (by node kind, and for bars, wires, tunnels and highlights) and sizes."""

COLOURS = {  # node kind -> (fill, edge)
    "host": ("#dce9f7", "#3b6ea5"), "container": ("#fde6c8", "#c47a1e"),
    "router": ("#dcf1d4", "#3f8a36"), "switch": ("#e8e0f8", "#6b4fa8"),
    "server": ("#f8dcdb", "#b0413e"), "client": ("#fbf3c6", "#9c8a1b"),
    "node": ("#ececec", "#666666"),
}
BAR, WIRE, HIGHLIGHT, TUNNEL = "#4a4a4a", "#333333", "#e6194b", "#1f77b4"
BIG = 40  # more nodes than this: smaller text, no interface labels
PAD, GAP = 0.14, 0.3
