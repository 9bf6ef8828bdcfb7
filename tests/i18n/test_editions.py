"""The Chinese edition is built from the English notebooks and translation files (issue 19): these
tests fail when the two editions drift apart — a translation missing or made from an older English
text, code or outputs that are not the English edition's — and check the building blocks on a
small notebook of their own."""

from __future__ import annotations

import ast

import nbformat
import pytest

from nethelpers.i18n import editions

ENGLISH = editions.english_notebooks()
LANG = "zh-CN"


@pytest.mark.parametrize("english", ENGLISH, ids=[p.stem for p in ENGLISH])
def test_the_chinese_edition_is_in_step_with_the_english_one(english):
    found = editions.problems(english, LANG)
    assert not found, (f"{english.name}: the {LANG} edition has drifted (scripts/translations.py status, "
                       "then skeleton / build / run):\n" + "\n".join(map(str, found[:20])))


def test_every_english_notebook_has_its_edition_and_no_edition_is_an_orphan():
    editions_ = sorted((editions.NOTEBOOKS / LANG).glob("*.ipynb"))
    assert [p.name for p in editions_] == [p.name for p in ENGLISH]
    files = sorted((editions.TRANSLATIONS / LANG).glob("*.yaml"))
    assert [p.stem for p in files] == [p.stem for p in ENGLISH]


# --- the building blocks, on a notebook of the test's own ----------------------------------------
QUESTION = ('ask("Where does the `ping` go?",\n'
            '    ["into veth1", "nowhere"],\n'
            '    answer=0,\n'
            '    why="The first route " "wins.")\n')


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A course of one English notebook (markdown, a question, a magic, a plain code cell) in tmp_path."""
    monkeypatch.setattr(editions, "NOTEBOOKS", tmp_path / "notebooks")
    monkeypatch.setattr(editions, "TRANSLATIONS", tmp_path / "translations")
    (tmp_path / "notebooks").mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# 01 · A title\n\nSee [the glossary](../docs/glossary.md)."),
                      nbformat.v4.new_code_cell(QUESTION),
                      nbformat.v4.new_code_cell("%lab myhost ip route"),
                      nbformat.v4.new_code_cell("print('the same in both')")]
    for cell, cell_id in zip(notebook.cells, ("aaaa0001", "aaaa0002", "aaaa0003", "aaaa0004")):
        cell.id = cell_id
    notebook.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="the same in both\n")]
    english = tmp_path / "notebooks" / "01-test.ipynb"
    nbformat.write(notebook, english)
    return english


def _translate(english):
    path = editions.skeleton(english, LANG)
    entries = editions.load(path)
    entries["aaaa0001"]["markdown"] = "# 01 · 标题\n\n见[术语表](../docs/glossary.md)。"
    for pair in entries["aaaa0002"]["strings"]:
        pair["zh"] = {"Where does the `ping` go?": "`ping` 去哪里？", "into veth1": "进入 veth1",
                      "nowhere": "哪里也不去", "The first route wins.": "第一条路由胜出。"}[pair["en"]]
    editions.dump(path, english, LANG, entries)
    return path


def test_skeleton_lists_each_cell_with_words_and_the_hash_of_its_english_source(course):
    entries = editions.load(editions.skeleton(course, LANG))
    assert list(entries) == ["aaaa0001", "aaaa0002"]  # the magic and the print have nothing to translate
    source = nbformat.read(course, as_version=4).cells[0].source
    assert entries["aaaa0001"]["source-sha256"] == editions.source_hash(source) != editions.source_hash(source + " ")
    assert [p["en"] for p in entries["aaaa0002"]["strings"]] == ["Where does the `ping` go?", "into veth1",
                                                                 "nowhere", "The first route wins."]


def test_a_built_edition_has_the_english_code_with_the_translated_strings(course):
    _translate(course)
    edition = nbformat.read(editions.build(course, LANG), as_version=4)
    assert editions.problems(course, LANG) == []
    assert edition.cells[0].source.startswith("# 01 · 标题")
    assert "](../../docs/zh-CN/glossary.md)" in edition.cells[0].source  # the glossary's own translation
    question = edition.cells[1].source
    call = ast.parse(question).body[0].value
    assert ast.literal_eval(call.args[0]) == "`ping` 去哪里？"
    assert ast.literal_eval(call.args[1]) == ["进入 veth1", "哪里也不去"]
    assert ast.literal_eval(call.keywords[0].value) == 0 and ast.literal_eval(call.keywords[1].value) == "第一条路由胜出。"
    assert [c.source for c in edition.cells[2:]] == ["%lab myhost ip route", "print('the same in both')"]
    assert edition.cells[3].outputs[0]["text"] == "the same in both\n"


def test_a_changed_english_cell_makes_its_translation_stale(course):
    _translate(course)
    editions.build(course, LANG)
    notebook = nbformat.read(course, as_version=4)
    notebook.cells[0].source += "\n\nA new sentence."
    nbformat.write(notebook, course)
    found = [str(p) for p in editions.problems(course, LANG)]
    assert any(p.startswith("cell aaaa0001: stale") for p in found), found


def test_a_cell_without_translation_a_gone_cell_and_an_empty_string_are_problems(course):
    path = _translate(course)
    entries = editions.load(path)
    entries["aaaa0002"]["strings"][1]["zh"] = ""
    gone = dict(entries.pop("aaaa0001"), id="bbbb0009")
    entries["bbbb0009"] = gone
    editions.dump(path, course, LANG, entries)
    editions.build(course, LANG)
    found = [str(p) for p in editions.problems(course, LANG)]
    assert "cell aaaa0001: no translation" in found
    assert any(p.startswith("cell bbbb0009: translated, but the English notebook has no such cell") for p in found)
    assert "cell aaaa0002: string not translated: 'into veth1'" in found


def test_code_or_outputs_that_differ_from_the_english_edition_are_problems(course):
    _translate(course)
    target = editions.build(course, LANG)
    edition = nbformat.read(target, as_version=4)
    edition.cells[2].source = "%lab myhost ip -br route"
    edition.cells[3].outputs[0]["text"] = "something else\n"
    nbformat.write(edition, target)
    found = [str(p) for p in editions.problems(course, LANG)]
    assert any(p.startswith("cell aaaa0003: code differs") for p in found), found
    assert any(p.startswith("cell aaaa0004: outputs differ") for p in found), found


def test_outputs_in_chinese_are_the_editions_own_and_equal_ones_are_shared(course):
    _translate(course)
    target = editions.build(course, LANG)
    edition = nbformat.read(target, as_version=4)
    edition.cells[3].outputs[0]["text"] = "the same in both\n"
    edition.cells[3].execution_count = 7
    nbformat.write(edition, target)
    assert editions.share_outputs(course, LANG) == 1  # the question: its strings are its own
    assert nbformat.read(target, as_version=4).cells[3].execution_count is None  # the English one's
    edition = nbformat.read(target, as_version=4)
    edition.cells[3].outputs[0]["text"] = "练习：完成\n"
    nbformat.write(edition, target)
    assert editions.problems(course, LANG) == []


def test_translated_literals_are_split_to_fit_and_keep_their_exact_text():
    text = "第一条路由胜出：内核把发往 10.0.0.3 的数据包送进 veth1，" * 3 + '它的"引号"和 `代码` 不变。'
    source = editions.translate_code(QUESTION, {"The first route wins.": text})
    assert max(len(line) for line in source.splitlines()) <= 100
    call = ast.parse(source).body[0].value
    assert ast.literal_eval(call.keywords[1].value) == text


def test_a_stream_split_otherwise_by_the_kernel_is_the_same_output(course):
    _translate(course)
    target = editions.build(course, LANG)
    edition = nbformat.read(target, as_version=4)
    edition.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text="the same "),
                                nbformat.v4.new_output("stream", name="stdout", text="in both\n")]
    nbformat.write(edition, target)
    assert editions.problems(course, LANG) == []


def test_a_question_built_but_not_run_is_a_problem(course):
    """A rebuilt question cell keeps the English outputs until the edition is run again."""
    _translate(course)
    notebook = nbformat.read(course, as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "Check yourself: Where does the `ping` go?"})]
    nbformat.write(notebook, course)
    target = editions.build(course, LANG)
    assert [str(p) for p in editions.problems(course, LANG)] == [
        "cell aaaa0002: its outputs are not in the edition's language: it was built, not run "
        "(scripts/translations.py run)"]
    edition = nbformat.read(target, as_version=4)
    edition.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "自测：`ping` 去哪里？"})]
    nbformat.write(edition, target)
    assert editions.problems(course, LANG) == []


def test_a_cell_whose_output_is_live_by_nature_is_not_compared(course):
    """``# NBVAL_IGNORE_OUTPUT`` (a benchmark, the doctor): nbval does not compare it, nor do the editions."""
    notebook = nbformat.read(course, as_version=4)
    notebook.cells[3].source = "# NBVAL_IGNORE_OUTPUT\nprint('the same in both')"
    nbformat.write(notebook, course)
    _translate(course)
    target = editions.build(course, LANG)
    edition = nbformat.read(target, as_version=4)
    edition.cells[3].outputs[0]["text"] = "measured again: 3.2 Gbit/s\n"
    nbformat.write(edition, target)
    assert editions.problems(course, LANG) == []
    editions.share_outputs(course, LANG)
    assert nbformat.read(target, as_version=4).cells[3].outputs[0]["text"] == "measured again: 3.2 Gbit/s\n"


def _headings_anchors(path) -> set[str]:
    """The anchors JupyterLab gives a notebook's headings (their text, spaces as '-')."""
    return {line.lstrip("#").strip().replace(" ", "-") for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "markdown" for line in cell.source.splitlines() if line.startswith("#")}


@pytest.mark.parametrize("english", ENGLISH, ids=[p.stem for p in ENGLISH])
def test_every_link_of_the_chinese_edition_resolves(english):
    import re

    edition = editions.edition_path(english, LANG)
    broken = []
    for cell in nbformat.read(edition, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", cell.source):
            if "://" in target:
                continue
            path = (edition.parent / target) if target else edition
            if not path.exists():
                broken.append(f"{cell.id}: {target}")
            elif anchor and path.suffix == ".ipynb" and anchor not in _headings_anchors(path):
                broken.append(f"{cell.id}: {target}#{anchor} (no such heading)")
    assert broken == []


@pytest.mark.parametrize("english", ENGLISH, ids=[p.stem for p in ENGLISH])
def test_no_picture_of_the_chinese_edition_lacked_a_glyph(english):
    """matplotlib warns on stderr of each glyph its fonts lack: no stored output may hold one."""
    edition = nbformat.read(editions.edition_path(english, LANG), as_version=4)
    warned = [cell.id for cell in edition.cells if cell.cell_type == "code" for output in cell.outputs
              if "missing from font" in output.get("text", "")]
    assert warned == []


def test_a_stale_translation_brought_up_to_date_is_marked_done(course):
    _translate(course)
    editions.build(course, LANG)
    notebook = nbformat.read(course, as_version=4)
    notebook.cells[0].source += "\n\nA new sentence."
    nbformat.write(notebook, course)
    assert editions.mark_translated(course, LANG, ["aaaa0001", "zzzz9999"]) == ["zzzz9999"]
    entry = editions.load(editions.translation_path(course, LANG))["aaaa0001"]
    assert entry["source-sha256"] == editions.source_hash(notebook.cells[0].source)
    assert not any(p.cell == "aaaa0001" and p.what.startswith("stale") for p in editions.problems(course, LANG))


def test_outputs_that_differ_only_where_runs_differ_are_the_same(course):
    """The English notebook run again (a ping's time, a tcpdump timestamp): nbval sees no difference, nor do these."""
    _translate(course)
    notebook = nbformat.read(course, as_version=4)
    notebook.cells[3].outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text="64 bytes from 10.0.0.3: icmp_seq=1 ttl=64 time=0.094 ms\n")]
    nbformat.write(notebook, course)
    target = editions.build(course, LANG)
    edition = nbformat.read(target, as_version=4)
    edition.cells[3].outputs[0]["text"] = "64 bytes from 10.0.0.3: icmp_seq=1 ttl=64 time=0.131 ms\n"
    nbformat.write(edition, target)
    assert editions.problems(course, LANG) == []
    edition.cells[3].outputs[0]["text"] = "64 bytes from 10.0.0.4: icmp_seq=1 ttl=64 time=0.131 ms\n"
    nbformat.write(edition, target)
    assert [p.cell for p in editions.problems(course, LANG)] == ["aaaa0004"]
