"""The helper's learner-facing texts in the learner's language (English, or Simplified Chinese).

Texts are written in English in the code and looked up, when shown, in a gettext catalogue:
``nethelpers/locale/<language>/*.po`` (one file per module that speaks, read with Babel)::

    from ..i18n import _, N_

    TITLE = N_("a none container wired by hand")      # marked for the catalogue, looked up when shown
    return _("{name} has no default route").format(name=name)   # looked up now

A message is the English text with ``{named}`` placeholders (never an f-string: the catalogue
holds the text before the values go in). English is the default; the language is, first of all:

1. ``Lab(lang="zh-CN")`` or :func:`use` — for the rest of the kernel's life;
2. the environment variable ``NETHELPERS_LANG`` (``en`` or ``zh-CN``);
3. the notebook's folder: a kernel started in ``notebooks/zh-CN/`` (Jupyter and nbval start it in
   the notebook's folder) speaks Chinese, so that the Chinese edition's code is the English one's.

``python scripts/translations.py catalogue`` brings the catalogues in step with the code.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path

from ..errors import InvalidValue

ENGLISH = "en"
LANGUAGES = (ENGLISH, "zh-CN")
VARIABLE = "NETHELPERS_LANG"
LOCALE = Path(__file__).resolve().parent.parent / "locale"

_chosen: str | None = None


def normalise(lang: str) -> str:
    """``zh_CN``, ``zh-cn``, ``zh``, ``zh_CN.UTF-8`` … as ``zh-CN``; any English (``en_GB``) as ``en``;
    an unknown language (or Traditional Chinese, which has no edition) is a clear error."""
    wanted = str(lang).strip().split(".")[0].replace("_", "-").lower()
    for known in LANGUAGES:
        if wanted in (known.lower(), known.split("-")[0].lower()) or (known == ENGLISH and wanted.startswith("en-")):
            return known
    raise InvalidValue(f"no edition in the language {lang!r}: the course speaks "
                       f"{' and '.join(repr(l) for l in LANGUAGES)} (e.g. Lab(lang=\"zh-CN\"))")


def use(lang: str | None) -> str:
    """Speak ``lang`` from now on (None: back to the environment's choice); returns the language."""
    global _chosen
    _chosen = None if lang is None else normalise(lang)
    return language()


@contextlib.contextmanager
def speaking(lang: str):
    """Speak ``lang`` inside a ``with`` block, then as before (a tool whose report is in English
    and that reads the lab's messages, like the doctor, opens its labs in English)."""
    global _chosen
    before, _chosen = _chosen, normalise(lang)
    try:
        yield
    finally:
        _chosen = before


def language() -> str:
    """The language texts are shown in now (see the module's docstring for the order)."""
    if _chosen is not None:
        return _chosen
    variable = os.environ.get(VARIABLE, "").strip()
    if variable:
        try:
            return normalise(variable)
        except InvalidValue:
            return ENGLISH
    try:
        folders = Path.cwd().parts
    except OSError:
        return ENGLISH
    return next((lang for lang in LANGUAGES[1:] if lang in folders), ENGLISH)


@functools.lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """Every translated message of ``lang``: English text -> translation (fuzzy and empty ones left out)."""
    from babel.messages.pofile import read_po

    messages: dict[str, str] = {}
    for path in sorted((LOCALE / lang).glob("*.po")):
        with open(path, "rb") as f:
            for message in read_po(f):
                if message.id and message.string and not message.fuzzy:
                    messages[message.id] = message.string
    return messages


def _(message: str) -> str:
    """``message`` (English) in the current language: its translation, or itself if it has none."""
    lang = language()
    if lang == ENGLISH:
        return message
    return catalogue(lang).get(message, message)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without looking it up now (module-level texts, looked
    up with :func:`_` where they are shown)."""
    return message
