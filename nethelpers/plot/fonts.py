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
import glob

import matplotlib
from matplotlib import font_manager

CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
                "Noto Sans SC", "AR PL UMing CN")


# where Debian/Ubuntu and Fedora put them (fonts-wqy-microhei, wqy-microhei-fonts, fonts-noto-cjk, …)
CJK_FILES = ("/usr/share/fonts/**/wqy-microhei.ttc", "/usr/share/fonts/**/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/**/wqy-zenhei.ttc")


@functools.lru_cache(maxsize=1)
def installed_cjk() -> tuple[str, ...]:
    """The CJK families of :data:`CJK_FAMILIES` that this machine has. Matplotlib keeps its list of
    the machine's fonts in a cache (``~/.cache/matplotlib``) made the first time it ran: a font
    installed after that (``./course install`` on a machine that had matplotlib) is added by file."""
    names = {font.name for font in font_manager.fontManager.ttflist}
    if not names & set(CJK_FAMILIES):
        for pattern in CJK_FILES:
            for path in glob.glob(pattern, recursive=True):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # unreadable or not a font: skip it
                    continue
        names = {font.name for font in font_manager.fontManager.ttflist}
    return tuple(family for family in CJK_FAMILIES if family in names)


def with_cjk() -> None:
    """Put the installed CJK families at the end of ``font.family`` (once)."""
    families = list(matplotlib.rcParams["font.family"])
    missing = [family for family in installed_cjk() if family not in families]
    if missing:
        matplotlib.rcParams["font.family"] = families + missing


with_cjk()
