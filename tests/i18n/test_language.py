"""The helper speaks the learner's language (issue 19): which language, the catalogues behind it,
and Chinese in the pictures."""

from __future__ import annotations

import warnings

import pytest

from nethelpers import i18n
from nethelpers.errors import InvalidValue, LabError
from nethelpers.exercises import Exercise
from nethelpers.i18n import N_, catalogues
from nethelpers.quiz import ask

SPEAKING = catalogues.speaking_modules()


@pytest.fixture(autouse=True)
def english_afterwards(monkeypatch):
    monkeypatch.delenv(i18n.VARIABLE, raising=False)
    yield
    i18n.use(None)


def test_english_is_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert i18n.language() == "en"
    assert i18n._("Check yourself:") == "Check yourself:"


def test_the_language_comes_from_use_then_the_variable_then_the_folder(tmp_path, monkeypatch):
    chinese_folder = tmp_path / "notebooks" / "zh-CN"
    chinese_folder.mkdir(parents=True)
    monkeypatch.chdir(chinese_folder)  # Jupyter and nbval start a notebook's kernel in its folder
    assert i18n.language() == "zh-CN"
    monkeypatch.setenv(i18n.VARIABLE, "en")
    assert i18n.language() == "en"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(i18n.VARIABLE, "zh_CN")
    assert i18n.language() == "zh-CN"
    assert i18n.use("en") == "en" and i18n.language() == "en"  # Lab(lang=...) wins over all
    assert i18n.use(None) == "zh-CN"


@pytest.mark.parametrize("spelling", ["zh-CN", "zh_CN", "zh-cn", "zh", "ZH-CN", "zh_CN.UTF-8"])
def test_spellings_of_chinese_are_understood(spelling):
    assert i18n.normalise(spelling) == "zh-CN"


@pytest.mark.parametrize("spelling", ["en", "en_US.UTF-8", "en-GB"])
def test_any_english_is_english(spelling):
    assert i18n.normalise(spelling) == "en"


@pytest.mark.parametrize("spelling", ["zh-TW", "fr", "", "zh-CN-x"])
def test_a_language_without_an_edition_is_refused(spelling):
    with pytest.raises(InvalidValue, match="no edition in the language"):
        i18n.normalise(spelling)


def test_an_unknown_language_is_a_clear_error_and_opens_no_lab():
    from nethelpers import Lab

    with pytest.raises(InvalidValue) as refused:
        Lab(lang="fr")
    assert isinstance(refused.value, LabError)
    assert "'fr'" in str(refused.value) and 'Lab(lang="zh-CN")' in str(refused.value)
    assert i18n.language() == "en"  # nothing changed


def test_in_chinese_the_checker_and_the_questions_speak_chinese(capsys, monkeypatch):
    monkeypatch.delenv("NETHELPERS_SOLUTIONS", raising=False)
    exercise = Exercise(N_("a test exercise"), [("the step", lambda lab: None)])
    i18n.use("zh-CN")
    exercise.check(None)
    assert capsys.readouterr().out == "✓ the step\n做得好：a test exercise —— 已解决。\n"
    text = ask("问题？", ["甲", "乙"], answer=1, why="因为。").text()
    assert text.startswith("自测：问题？\n  a) 甲\n  b) 乙\n（在上面选一个")
    i18n.use("en")
    exercise.check(None)
    assert capsys.readouterr().out == "✓ the step\nWell done: a test exercise — solved.\n"


@pytest.mark.parametrize("module", SPEAKING, ids=[catalogues.module_name(m) for m in SPEAKING])
def test_every_message_of_a_speaking_module_is_translated(module):
    """Each _("…")/N_("…") of the module has a Chinese translation with the same {placeholders},
    and the catalogue translates nothing the code no longer says."""
    assert catalogues.problems(module, "zh-CN") == []


def test_the_speaking_modules_include_the_checkers_the_quiz_and_the_tracer():
    names = {catalogues.module_name(m) for m in SPEAKING}
    assert {"quiz", "exercises.__init__", "exercises.bridge", "exercises.kubernetes"} <= names
    assert any(name.startswith("trace") for name in names)


def test_a_message_is_never_an_f_string():
    """An f-string (or a text built another way) inside _() is looked up after its values went in:
    it is never found. (A name is fine: an N_-marked text looked up where it is shown.)"""
    import ast

    wrong = []
    for module in SPEAKING:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            built = node.args and (isinstance(node.args[0], (ast.JoinedStr, ast.BinOp)) or (
                isinstance(node.args[0], ast.Call) and getattr(node.args[0].func, "attr", None) == "format"))
            if name in ("_", "N_") and built:
                wrong.append(f"{catalogues.module_name(module)}:{node.lineno}")
    assert wrong == []


def test_chinese_labels_find_their_glyphs_in_a_picture():
    """The set-up installs a CJK font (fonts-wqy-microhei); matplotlib warns of each missing glyph."""
    from matplotlib.figure import Figure

    from nethelpers.plot import fonts
    from nethelpers.plot.legibility import png

    assert fonts.installed_cjk(), ("no font with Chinese glyphs: ./course install (or "
                                   "sudo apt-get install fonts-wqy-microhei)")
    fig = Figure(figsize=(4, 1))
    fig.text(0.1, 0.5, "网桥、网络命名空间与虚拟网卡对：docker0 上的容器")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png(fig)
    assert [str(w.message) for w in caught if "missing from" in str(w.message)] == []


def test_lab_lang_makes_the_lab_answer_in_chinese():
    from nethelpers import Lab
    from nethelpers.errors import InvalidName, NotFound

    with Lab(lang="zh-CN") as lab:
        assert i18n.language() == "zh-CN"
        with pytest.raises(NotFound, match=r"^这个 lab 里没有节点 'nope'（已有节点：还没有）；请先用 lab.add_node\('nope'\) 创建它$"):
            lab["nope"]
        with pytest.raises(InvalidName, match="^节点名 'a b' 不可用"):
            lab.add_node("a b")
        assert lab.nodes() == []  # refused before anything was built


def test_a_message_said_by_two_modules_has_one_translation():
    """The catalogues are merged into one table: a text two modules share must read the same in both."""
    from babel.messages.pofile import read_po

    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in sorted((i18n.LOCALE / "zh-CN").glob("*.po")):
        with open(path, "rb") as f:
            for message in read_po(f):
                if not message.id:
                    continue
                first = seen.setdefault(message.id, (path.name, message.string))
                if first[1] != message.string:
                    clashes.append(f"{message.id!r}: {first[0]} and {path.name} translate it differently")
    assert clashes == []


def test_the_doctor_opens_its_lab_in_english_whatever_the_notebook_speaks():
    """Its probes read the sandbox's messages ("'x' is not installed") and report in English."""
    from nethelpers.doctor import _namespaces_lab

    i18n.use("zh-CN")
    lab, refused = _namespaces_lab()
    try:
        assert refused is None and i18n.language() == "zh-CN"
        node = lab.add_node("probe")
        with pytest.raises(LabError, match="is not installed"):
            node.run(["no-such-tool-xyz"], check=True)
    finally:
        if lab is not None:
            lab.close()


def test_a_font_installed_after_matplotlibs_cache_was_made_is_found_by_its_file(monkeypatch):
    """matplotlib lists the machine's fonts once, in ~/.cache/matplotlib: a learner who ran the course
    before ./course install added the CJK font has a list without it."""
    from matplotlib import font_manager

    from nethelpers.plot import fonts

    manager = font_manager.fontManager
    stale = [font for font in manager.ttflist if font.name not in fonts.CJK_FAMILIES]
    monkeypatch.setattr(manager, "ttflist", stale)
    fonts.installed_cjk.cache_clear()
    try:
        assert fonts.installed_cjk(), "no CJK font file found under /usr/share/fonts"
    finally:
        fonts.installed_cjk.cache_clear()
