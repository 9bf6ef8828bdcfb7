"""The catalogues behind :func:`nethelpers.i18n._`: one gettext ``.po`` file per module that speaks,
``nethelpers/locale/<lang>/<module>.po`` (``exercises.bridge.po`` for nethelpers/exercises/bridge.py),
kept in step with the code's ``_("…")`` and ``N_("…")`` calls by Babel's extractor.
For building and testing the course (``scripts/translations.py catalogue``), not for the lab."""

from __future__ import annotations

import re
from pathlib import Path

from . import LOCALE

PACKAGE = LOCALE.parent
KEYWORDS = {"_": None, "N_": None}
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def module_name(path: Path) -> str:
    return ".".join(Path(path).resolve().relative_to(PACKAGE).with_suffix("").parts)


def catalogue_path(path: Path, lang: str) -> Path:
    return LOCALE / lang / (module_name(path) + ".po")


def messages_in(path: Path) -> list[tuple[str, int]]:
    """The messages a module marks, in order, with their line (Babel's Python extractor)."""
    from babel.messages.extract import extract_from_file

    found: dict[str, int] = {}
    for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
        if isinstance(message, str):
            found.setdefault(message, lineno)
    return list(found.items())


def speaking_modules() -> list[Path]:
    """The package's modules that mark messages."""
    return sorted(p for p in PACKAGE.rglob("*.py")
                  if "i18n" not in p.parts and re.search(r"\bN?_\(", p.read_text(encoding="utf-8")))


def update(path: Path, lang: str) -> Path:
    """Bring ``path``'s catalogue in step: new messages get an empty translation, gone ones go,
    translations of messages still there are kept."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    target = catalogue_path(path, lang)
    old = None
    if target.exists():
        with open(target, "rb") as f:
            old = read_po(f)
    catalog = Catalog(locale=lang.replace("-", "_"), project="nethelpers", charset="utf-8")
    source = str(Path(path).resolve().relative_to(PACKAGE.parent))
    for message, lineno in messages_in(path):
        known = old.get(message) if old is not None else None
        catalog.add(message, known.string if known is not None else "", locations=[(source, lineno)],
                    flags=("python-brace-format",) if PLACEHOLDER.search(message) else ())
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as f:
        write_po(f, catalog, width=100, omit_header=True, sort_output=False)
    return target


def problems(path: Path, lang: str) -> list[str]:
    """What is wrong with a module's catalogue: a marked message with no translation, a
    translation of a message no longer in the code, placeholders that are not the English ones."""
    from babel.messages.pofile import read_po

    target = catalogue_path(path, lang)
    if not target.exists():
        return [f"{module_name(path)}: no catalogue {target.relative_to(PACKAGE.parent)} "
                "(scripts/translations.py catalogue)"]
    with open(target, "rb") as f:
        catalog = read_po(f)
    marked = dict(messages_in(path))
    found = []
    for message in catalog:
        if not message.id:
            continue
        if message.id not in marked:
            found.append(f"{target.name}: translates {message.id[:60]!r}, which the code no longer says")
        elif not message.string:
            found.append(f"{target.name}: no translation of {message.id[:60]!r}")
        elif sorted(PLACEHOLDER.findall(message.id)) != sorted(PLACEHOLDER.findall(message.string)):
            found.append(f"{target.name}: the translation of {message.id[:60]!r} has placeholders "
                         f"{sorted(set(PLACEHOLDER.findall(message.string)))}, not "
                         f"{sorted(set(PLACEHOLDER.findall(message.id)))}")
    for message in marked:
        if catalog.get(message) is None:
            found.append(f"{target.name}: {message[:60]!r} is not in the catalogue")
    return found
