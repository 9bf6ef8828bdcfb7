"""Check-yourself questions (nethelpers.quiz): the three forms a question takes, and bad input."""

from __future__ import annotations

import pytest

from nethelpers.errors import InvalidValue
from nethelpers.quiz import ask

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def question():
    return ask("What does `ping` do now?", ["replies", "fails at once", "times out"], answer=2,
               why="the request leaves by `veth1`.", wrong={0: "nothing reaches app2."})


def test_the_saved_forms_hold_the_question_and_the_folded_answer():
    bundle = question()._repr_mimebundle_()
    assert bundle["text/plain"].splitlines() == [
        "Check yourself: What does `ping` do now?", "  a) replies", "  b) fails at once", "  c) times out",
        '(pick one above; without widgets: .check("a"), "b", ...)']
    html = bundle["text/html"]
    assert "<code>ping</code>" in html and "<ol type=\"a\">" in html
    # the answer is folded away, after the choices
    assert html.index("<details><summary>Answer</summary>") > html.index("times out</li>")
    assert "c) times out. the request leaves by <code>veth1</code>." in html
    assert WIDGET_VIEW in bundle  # live: the widget


def test_the_widget_answers_at_once():
    q = question()
    box = q.widget()
    picker, said = box.children[1], box.children[2]
    picker.value = 0
    assert "Not a. nothing reaches app2. Try again." in said.value
    picker.value = 2
    assert "Right. the request leaves by <code>veth1</code>." in said.value


def test_check_in_text(capsys):
    q = question()
    q.check("B")
    q.check("c")
    assert capsys.readouterr().out == "✗ Not b. Try again.\n✓ Right. the request leaves by `veth1`.\n"
    for bad in ("d", "", "ab", 3):
        with pytest.raises(InvalidValue, match="is not one of the choices"):
            q.check(bad)


@pytest.mark.parametrize("choices, answer, match", [
    (["only one"], 0, "2 to 26 choices"), (["a", "b"], 2, "no choice's index"), (["a", "b"], -1, "no choice's index")])
def test_bad_questions_are_refused(choices, answer, match):
    with pytest.raises(InvalidValue, match=match):
        ask("?", choices, answer=answer, why="")


def test_emphasis_renders_as_in_markdown_and_code_keeps_its_stars():
    from nethelpers.quiz import _inline

    assert _inline("port 9100 *is* the host's") == "port 9100 <em>is</em> the host&#x27;s"
    assert _inline("`iptables -t nat -L *` and 2*3*4") == "<code>iptables -t nat -L *</code> and 2*3*4"
