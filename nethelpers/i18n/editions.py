"""The course's other editions, built from the English notebooks and a translation file each.

``translations/<lang>/NN-name.yaml`` holds, for each English cell that has words to translate,
its id (cells are matched by id, never by position), a hash of the English source it was
translated from, and the translation: a markdown cell's whole text, or a code cell's strings
(the questions of ``ask(...)`` and pictures' titles; the code around them stays as it is)::

    cells:
    - id: f0373b93
      source-sha256: 9c1e7d2ab04f        # of the English source when it was translated
      markdown: |
        # 01 · 网桥(bridge)……
    - id: b1043cf5
      source-sha256: 2b7a51c0e9d3
      strings:
      - en: What will its ping to `app2` do?
        zh: 它 ping `app2` 会怎样？

:func:`build` writes ``notebooks/<lang>/NN-name.ipynb``: the English notebook, cell for cell, with
those texts in place. :func:`problems` says where an edition has drifted from the English one (a
stale or missing translation, code or outputs that differ). ``scripts/translations.py`` is the
command line. This module is for building and testing the course, not for the lab: it needs PyYAML.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from . import layout

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
TRANSLATIONS = ROOT / "translations"
SANITIZE_CONFIG = ROOT / "notebooks" / "nbval_sanitize.cfg"  # what nbval masks (pyproject.toml's addopts)
TITLE_KEYWORDS = ("title", "suptitle")
QUESTION_CALLS = ("ask",)


def source_hash(source: str) -> str:
    """The first 12 hex digits of the SHA-256 of a cell's source: what a translation was made from."""
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def english_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def translation_path(english: Path, lang: str) -> Path:
    return TRANSLATIONS / lang / (english.stem + ".yaml")


def edition_path(english: Path, lang: str) -> Path:
    return NOTEBOOKS / lang / english.name


# --- which texts of a code cell are translated ----------------------------------------------
def _text_constants(node: ast.AST) -> list[ast.Constant]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and re.search(r"[A-Za-z]{2}", n.value)]


def translatable_constants(source: str) -> list[ast.Constant]:
    """The string constants of a code cell that a learner reads as prose: every text inside an
    ``ask(...)`` call, and ``title=`` / ``suptitle=`` arguments. Cells with IPython magics have none."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found: list[ast.Constant] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in QUESTION_CALLS:
            found += _text_constants(node)
        elif name in TITLE_KEYWORDS and node.args:
            found += _text_constants(node.args[0])
        for keyword in node.keywords:
            if keyword.arg in TITLE_KEYWORDS:
                found += _text_constants(keyword.value)
    unique: dict[tuple, ast.Constant] = {(n.lineno, n.col_offset): n for n in found}
    return sorted(unique.values(), key=lambda n: (n.lineno, n.col_offset))


def translatable_strings(source: str) -> list[str]:
    return list(dict.fromkeys(n.value for n in translatable_constants(source)))


def _literal(text: str, indent: int, width: int = 100) -> str:
    """``text`` as a Python literal that fits lines of ``width`` from column ``indent``, in pieces
    (implicit concatenation) cut after a space or CJK punctuation where there is one near the
    end of the line, else between two CJK characters."""
    room = max(40, width - indent - 2) - 2
    pieces, piece = [], ""
    for ch in text:
        piece += ch
        if layout.width(piece) >= room and (ch == " " or layout.CJK.match(ch)):
            cut = max(piece.rfind(mark) for mark in " ，。：；、）")
            cut = cut + 1 if cut >= len(piece) - 12 else len(piece)
            pieces.append(piece[:cut])
            piece = piece[cut:]
    pieces.append(piece)
    quote = "'" if '"' in text else '"'
    quoted = [quote + repr(p)[1:-1].replace("\\'", "'").replace(quote, "\\" + quote) + quote
              for p in pieces if p] or ['""']
    return ("\n" + " " * indent).join(quoted)


def translate_code(source: str, strings: dict[str, str]) -> str:
    """``source`` with each translatable constant whose English text is in ``strings`` replaced
    by its translation (a literal in the same place); everything else byte for byte the same."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    data = source.encode()
    edits = []
    for node in translatable_constants(source):
        if strings.get(node.value):
            begin = offsets[node.lineno - 1] + node.col_offset
            end = offsets[node.end_lineno - 1] + node.end_col_offset
            indent = node.col_offset
            edits.append((begin, end, _literal(strings[node.value], indent).encode()))
    for begin, end, text in sorted(edits, reverse=True):
        data = data[:begin] + text + data[end:]
    return data.decode()


# --- translation files ------------------------------------------------------------------------
def _block_strings(dumper, text):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def load(path: Path) -> dict:
    """A translation file as ``{cell id: entry}`` (entries in the file's order)."""
    import yaml

    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(entry["id"]): entry for entry in data.get("cells") or []}


def dump(path: Path, english: Path, lang: str, entries: dict) -> None:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    Dumper.add_representer(str, _block_strings)
    header = (f"# The {lang} translation of notebooks/{english.name}, cell by cell (matched by id).\n"
              f"# source-sha256: of the English cell's source when it was translated; an English\n"
              f"# change makes the entry stale (tests fail). Build: python scripts/translations.py build\n")
    body = yaml.dump({"notebook": english.name, "language": lang, "cells": list(entries.values())},
                     Dumper=Dumper, allow_unicode=True, sort_keys=False, width=1000)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + body, encoding="utf-8")


def lang_key(lang: str) -> str:
    """The key of a string's translation in an entry: ``zh`` for zh-CN."""
    return lang.split("-")[0]


def strings_of(entry: dict) -> dict[str, str]:
    """A code cell's entry as ``{English text: translation}``."""
    return {pair["en"]: next((v for k, v in pair.items() if k != "en"), "") or ""
            for pair in entry.get("strings") or []}


def needs_translation(cell) -> bool:
    return cell.cell_type == "markdown" or bool(translatable_strings(cell.source))


def skeleton(english: Path, lang: str) -> Path:
    """Bring a translation file in step with its English notebook's cells: a new cell gets an
    empty entry (to fill), a cell no longer there is dropped; translations and hashes are kept."""
    import nbformat

    notebook = nbformat.read(english, as_version=4)
    path = translation_path(english, lang)
    old = load(path)
    entries = {}
    for cell in notebook.cells:
        if not needs_translation(cell):
            continue
        entry = old.get(cell.id) or {"id": cell.id, "source-sha256": source_hash(cell.source)}
        if cell.cell_type == "markdown":
            entry.setdefault("markdown", "")
        else:
            known = strings_of(entry)
            entry["strings"] = [{"en": text, lang_key(lang): known.get(text, "")}
                                for text in translatable_strings(cell.source)]
        entries[cell.id] = entry
    dump(path, english, lang, entries)
    return path


def mark_translated(english: Path, lang: str, cell_ids: list[str]) -> list[str]:
    """Record that the translations of ``cell_ids`` now follow the English cells as they are (their
    hash becomes the current source's): done after bringing a stale translation up to date.
    Returns the ids that have no entry (nothing is changed for those)."""
    import nbformat

    sources = {c.id: c.source for c in nbformat.read(english, as_version=4).cells}
    path = translation_path(english, lang)
    entries = load(path)
    unknown = [i for i in cell_ids if i not in entries or i not in sources]
    for cell_id in cell_ids:
        if cell_id not in unknown:
            entries[cell_id]["source-sha256"] = source_hash(sources[cell_id])
    dump(path, english, lang, entries)
    return unknown


# --- building and checking an edition -----------------------------------------------------
def _link_fix(markdown: str, lang: str) -> str:
    """Links out of notebooks/ (``../docs/…``, written as in the English notebook) one folder further
    up, to the page's own translation where there is one (``docs/zh-CN/glossary.md``); a link that
    only makes sense from the edition's folder (``../00-start-here.ipynb``, the English edition) is
    left as it is."""
    def fixed(match: re.Match) -> str:
        target, _hash, anchor = match.group(1).partition("#")
        if not (ROOT / target).exists():
            return match.group(0)
        translated = Path(target).parent / lang / Path(target).name
        if (ROOT / translated).exists():
            return f"](../../{translated.as_posix()}{_hash}{anchor}"
        return "](../../" + match.group(1)

    return re.sub(r"\]\(\.\./([^)\s]+)", fixed, markdown)


def build(english: Path, lang: str) -> Path:
    """Write the ``lang`` edition of ``english``: its cells with the translations in place, each
    code cell's outputs kept from the edition's last run while its source is unchanged (run the
    notebook to refresh them: scripts/run_notebooks.py), else the English ones until then."""
    import nbformat

    notebook = nbformat.read(english, as_version=4)
    entries = load(translation_path(english, lang))
    target = edition_path(english, lang)
    previous = {}
    if target.exists():
        previous = {c.id: c for c in nbformat.read(target, as_version=4).cells}
    edition = copy.deepcopy(notebook)
    for cell in edition.cells:
        entry = entries.get(cell.id, {})
        if cell.cell_type == "markdown" and entry.get("markdown"):
            cell.source = _link_fix(entry["markdown"].rstrip("\n"), lang)
        elif cell.cell_type == "code":
            cell.source = translate_code(cell.source, strings_of(entry))
            old = previous.get(cell.id)
            if old is not None and old.source == cell.source:
                cell.outputs, cell.execution_count = old.outputs, old.execution_count
    edition.metadata["nethelpers"] = {"edition": lang, "translated_from": f"../{english.name}"}
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(edition, target)
    return target


def _texts(outputs) -> list[tuple[str, str]]:
    """A cell's outputs as nbval compares them, (kind, text) each (images and widget views aside;
    a stream's consecutive pieces joined, as nbval joins them)."""
    texts: list[tuple[str, str]] = []
    for output in outputs:
        if output.get("output_type") == "stream":  # one text per run of a stream, however the kernel split it
            name, text = output.get("name", ""), output.get("text", "")
            if texts and texts[-1][0] == name:
                texts[-1] = (name, texts[-1][1] + text)
            else:
                texts.append((name, text))
        elif output.get("output_type") == "error":
            texts.append(("error", output.get("ename", "")))
        else:
            for kind in ("text/plain", "text/html"):
                if kind in output.get("data", {}):
                    texts.append((kind, output["data"][kind]))
    return texts


def _sanitised(outputs, sanitise) -> list[tuple[str, str]]:
    return [(kind, sanitise(text)) for kind, text in _texts(outputs)]


def live(cell) -> bool:
    """A cell whose output is live by nature (``# NBVAL_IGNORE_OUTPUT``): nbval does not compare it,
    and neither do the editions."""
    return cell.source.startswith("# NBVAL_IGNORE_OUTPUT")


def speaks(outputs) -> bool:
    """Outputs with text in the edition's language (they are the edition's own)."""
    return any(layout.CJK.search(text) for _kind, text in _texts(outputs))


def share_outputs(english: Path, lang: str) -> int:
    """After a run of the edition: each code cell whose outputs say nothing in ``lang`` and the
    same as the English ones (once sanitised as nbval does) takes the English outputs verbatim,
    so that the two editions differ only where they should. Returns how many cells differ."""
    import nbformat

    english_cells = {c.id: c for c in nbformat.read(english, as_version=4).cells}
    target = edition_path(english, lang)
    edition = nbformat.read(target, as_version=4)
    sanitise = sanitiser()
    own = 0
    for cell in edition.cells:
        source = english_cells.get(cell.id)
        if cell.cell_type != "code" or source is None:
            continue
        if speaks(cell.outputs) or translatable_strings(source.source) or live(source):
            own += 1
            continue
        if _sanitised(cell.outputs, sanitise) == _sanitised(source.outputs, sanitise):
            cell.outputs, cell.execution_count = copy.deepcopy(source.outputs), source.execution_count
    nbformat.write(edition, target)
    return own


def sanitiser():
    """nbval's sanitising (notebooks/nbval_sanitize.cfg's regex/replace pairs) as a function."""
    import configparser

    config = configparser.ConfigParser(interpolation=None)
    config.read(SANITIZE_CONFIG, encoding="utf-8")
    rules = [(re.compile(config[s]["regex"]), config[s]["replace"]) for s in config.sections()]

    def sanitise(text: str) -> str:
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        return text

    return sanitise


@dataclass
class Problem:
    cell: str
    what: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.what}"


def problems(english: Path, lang: str) -> list[Problem]:
    """Where the ``lang`` edition of ``english`` has drifted: translations missing, empty or
    stale (the English cell changed since), for cells that are gone, code that is not the English
    code, outputs that differ from the English ones without speaking ``lang``."""
    import nbformat

    notebook = nbformat.read(english, as_version=4)
    entries = load(translation_path(english, lang))
    found: list[Problem] = []
    ids = {c.id for c in notebook.cells}
    for cell_id in entries:
        if cell_id not in ids:
            found.append(Problem(cell_id, "translated, but the English notebook has no such cell "
                                          "(scripts/translations.py skeleton drops it)"))
    for cell in notebook.cells:
        if not needs_translation(cell):
            continue
        entry = entries.get(cell.id)
        if entry is None:
            found.append(Problem(cell.id, "no translation"))
            continue
        if entry.get("source-sha256") != source_hash(cell.source):
            found.append(Problem(cell.id, f"stale: the English source changed since it was translated "
                                          f"(hash {entry.get('source-sha256')}, now {source_hash(cell.source)})"))
        if cell.cell_type == "markdown" and not (entry.get("markdown") or "").strip():
            found.append(Problem(cell.id, "empty translation"))
        if cell.cell_type == "code":
            strings = strings_of(entry)
            for text in translatable_strings(cell.source):
                if not strings.get(text):
                    found.append(Problem(cell.id, f"string not translated: {text[:60]!r}"))
    target = edition_path(english, lang)
    if not target.exists():
        return found + [Problem("-", f"{target.relative_to(ROOT)} is missing (scripts/translations.py build)")]
    edition = nbformat.read(target, as_version=4)
    sanitise = sanitiser()  # outputs compared as nbval compares them: what differs between runs aside
    if [c.id for c in edition.cells] != [c.id for c in notebook.cells]:
        return found + [Problem("-", "its cells are not the English notebook's (rebuild it)")]
    for mine, theirs in zip(edition.cells, notebook.cells):
        entry = entries.get(theirs.id, {})
        if mine.cell_type != theirs.cell_type:
            found.append(Problem(mine.id, "not the same kind of cell as the English one"))
        elif mine.cell_type == "markdown":
            if entry.get("markdown") and mine.source != _link_fix(entry["markdown"].rstrip("\n"), lang):
                found.append(Problem(mine.id, "the notebook's text is not its translation (rebuild it)"))
        elif mine.source != translate_code(theirs.source, strings_of(entry)):
            found.append(Problem(mine.id, "code differs from the English edition's (rebuild it)"))
        elif any(english in text for english, said in strings_of(entry).items() if said and said != english
                 for _kind, text in _texts(mine.outputs)):
            found.append(Problem(mine.id, "its outputs are not in the edition's language: it was built, not "
                                          "run (scripts/translations.py run)"))
        elif not speaks(mine.outputs) and not translatable_strings(theirs.source) and not live(theirs) \
                and _sanitised(mine.outputs, sanitise) != _sanitised(theirs.outputs, sanitise):
            found.append(Problem(mine.id, "outputs differ from the English edition's (run it again: "
                                          "scripts/translations.py run)"))
    return found
