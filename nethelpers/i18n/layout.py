"""Text laid out in columns, where a CJK character takes two (a monospaced font, a picture's title).

English text is laid out exactly as ``str.ljust`` and ``textwrap`` lay it out."""

from __future__ import annotations

import re
import textwrap
import unicodedata

CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]")
_PIECES = re.compile(r"\s+|[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]|[^\s\u2e80-\u9fff\uf900-\ufaff"
                     r"\uff00-\uffef\u3000-\u303f]+")
_NO_LINE_START = "，。、；：？！）》」』”’"
_NO_LINE_END = "（《「『“‘"


def width(text: str) -> int:
    """The columns ``text`` takes in a monospaced font: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def ljust(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def rjust(text: str, columns: int) -> str:
    return " " * max(0, columns - width(text)) + text


def wrap(text: str, columns: int, first: str = "", rest: str = "") -> list[str]:
    """``textwrap.wrap`` for English; text with CJK in it in lines of ``columns`` columns, cut between
    words or after any CJK character (never before a closing punctuation mark, nor after an opening one)."""
    if not CJK.search(text):
        return textwrap.wrap(text, columns, initial_indent=first, subsequent_indent=rest)
    lines, line, empty = [], first, True
    for piece in _PIECES.findall(text):
        if piece.isspace():
            piece = " "
        if not empty and width(line + piece.rstrip()) > columns and piece not in _NO_LINE_START:
            line = line.rstrip()
            carried = line[-1] if line[-1] in _NO_LINE_END else ""
            lines.append(line[:len(line) - len(carried)].rstrip())
            line, empty = rest + carried, not carried
            if piece == " ":
                continue
        line += piece
        empty = False
    lines.append(line.rstrip())
    return lines
