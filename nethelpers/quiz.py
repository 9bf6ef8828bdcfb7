"""Check-yourself questions: predict what the next cell will do, then see.

``ask(prompt, choices, answer=..., why=...)`` shows a question with its choices. In a running
notebook it is a widget: pick a choice and it says at once whether it is right, and why. A
saved notebook keeps a plain form in its place (the widget's id is new on every run): the
question, the choices and the answer folded under "Answer" (HTML), or the same as text, which
is what the tests compare. Without widgets, ``question.check("b")`` answers in text.
"""

from __future__ import annotations

import html
import re
import string

from .errors import InvalidValue
from .i18n import _

LETTERS = string.ascii_lowercase


class Question:
    """One multiple-choice question with one right answer."""

    def __init__(self, prompt: str, choices: list[str], *, answer: int, why: str,
                 wrong: dict[int, str] | None = None) -> None:
        if not 2 <= len(choices) <= len(LETTERS):
            raise InvalidValue(f"a question needs 2 to {len(LETTERS)} choices, not {len(choices)}")
        if not 0 <= answer < len(choices):
            raise InvalidValue(f"answer={answer} is no choice's index: use 0 to {len(choices) - 1}")
        self.prompt, self.choices, self.answer, self.why = prompt, list(choices), answer, why
        self.wrong = dict(wrong or {})  # index of a wrong choice -> why it is wrong
        self._widget = None

    def feedback(self, choice: int) -> str:
        """What a learner who picked ``choice`` is told."""
        if choice == self.answer:
            return _("✓ Right. {why}").format(why=self.why)
        because = self.wrong.get(choice)
        return _("✗ Not {letter}. {because}Try again.").format(letter=LETTERS[choice],
                                                           because=because + " " if because else "")

    def check(self, letter: str) -> None:
        """Answer in text: ``question.check("b")``."""
        letter = str(letter).strip().lower()
        index = LETTERS.find(letter) if len(letter) == 1 else -1
        if not 0 <= index < len(self.choices):
            raise InvalidValue(f"{letter!r} is not one of the choices "
                               f"({', '.join(LETTERS[:len(self.choices)])})")
        print(self.feedback(index))

    # --- display -------------------------------------------------------------------------
    def text(self) -> str:
        lines = [_("Check yourself: {question}").format(question=self.prompt)]
        lines += [f"  {LETTERS[i]}) {choice}" for i, choice in enumerate(self.choices)]
        lines.append(_("(pick one above; without widgets: .check(\"a\"), \"b\", ...)"))
        return "\n".join(lines)

    def html(self) -> str:
        items = "".join(f"<li>{_inline(choice)}</li>" for choice in self.choices)
        right = f"{LETTERS[self.answer]}) {_inline(self.choices[self.answer])}"
        heading, answer = _("Check yourself:"), _("Answer")
        said = _("{choice}. {why}").format(choice=right, why=_inline(self.why))
        return (f"<p><b>{heading}</b> {_inline(self.prompt)}</p><ol type=\"a\">{items}</ol>"
                f"<details><summary>{answer}</summary><p>{said}</p></details>")

    def widget(self):
        import ipywidgets as w

        options = [(f"{LETTERS[i]}) {c}", i) for i, c in enumerate(self.choices)]
        picker = w.RadioButtons(options=options, value=None, layout=w.Layout(width="max-content"))
        said = w.HTML()

        def picked(change) -> None:
            if change["new"] is not None:
                text = self.feedback(change["new"])
                colour = "#1a7f37" if change["new"] == self.answer else "#b35900"
                said.value = f"<span style=\"color:{colour}\">{_inline(text)}</span>"

        picker.observe(picked, names="value")
        heading = _("Check yourself:")
        return w.VBox([w.HTML(f"<b>{heading}</b> {_inline(self.prompt)}"), picker, said])

    def _repr_mimebundle_(self, **kwargs) -> dict:
        bundle = {"text/plain": self.text(), "text/html": self.html()}
        try:
            self._widget = self._widget or self.widget()
            view = self._widget._repr_mimebundle_(**kwargs)
        except ImportError:  # no ipywidgets: the plain forms are the question
            return bundle
        bundle.update({k: v for k, v in view.items() if k not in ("text/plain",)})
        return bundle

    def __repr__(self) -> str:
        return self.text()


def _inline(text: str) -> str:
    """Escaped HTML, with `code` spans and *emphasis* as in the notebook's Markdown."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else _EMPHASIS.sub(r"<em>\1</em>", p) for i, p in enumerate(parts))


_EMPHASIS = re.compile(r"(?<![\w*])\*([^*\s](?:[^*]*[^*\s])?)\*(?![\w*])")


def ask(prompt: str, choices: list[str], *, answer: int, why: str,
        wrong: dict[int, str] | None = None) -> Question:
    """A check-yourself question (``answer``: the index of the right choice, from 0)."""
    return Question(prompt, choices, answer=answer, why=why, wrong=wrong)
