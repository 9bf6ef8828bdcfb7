"""Chinese text in the pictures: a CJK font behind matplotlib's default one.

Matplotlib (3.6+) falls back, glyph by glyph, along the families of ``font.family`` (each
generic one, like the default ``sans-serif``, standing for the first installed font of its list).
:func:`with_cjk` appends the CJK fonts installed here to ``font.family``, so that Latin text looks
as before (DejaVu Sans) and a Chinese title or label finds its glyphs. The course's set-up installs WenQuanYi Micro Hei (Debian's
``fonts-wqy-microhei``, 1.6 MB; Noto Sans CJK, 56 MB, would serve too, but matplotlib takes the
first face of its collection, the Japanese one). Without any, matplotlib warns of each missing
glyph, which the tests catch.
"""

from __future__ import annotations

import functools

import matplotlib
from matplotlib import font_manager

CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "Noto Sans SC", "AR PL UMing CN")


@functools.lru_cache(maxsize=1)
def installed_cjk() -> tuple[str, ...]:
    """The CJK families of :data:`CJK_FAMILIES` that this machine has."""
    names = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(family for family in CJK_FAMILIES if family in names)


def with_cjk() -> None:
    """Put the installed CJK families at the end of ``font.family`` (once)."""
    families = list(matplotlib.rcParams["font.family"])
    missing = [family for family in installed_cjk() if family not in families]
    if missing:
        matplotlib.rcParams["font.family"] = families + missing


with_cjk()
