"""The course's other editions and the helper's catalogues: build them, keep them in step.

    python scripts/translations.py skeleton [NN ...]  translation files in step with the English cells
    python scripts/translations.py build [NN ...]     write notebooks/zh-CN/NN-*.ipynb from them
    python scripts/translations.py run [NN ...]       build, execute, and share outputs with English
    python scripts/translations.py status             what is missing or stale (what the tests say)
    python scripts/translations.py done NN ID [ID ...]  these cells' translations follow the English now
    python scripts/translations.py catalogue [FILE ...]  nethelpers/locale/zh-CN/*.po in step with _()

NN picks notebooks by their number (01) or name; no NN: all of them. See nethelpers/i18n/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nethelpers.i18n import catalogues, editions

LANG = "zh-CN"


def chosen(args: list[str]) -> list[Path]:
    every = editions.english_notebooks()
    if not args:
        return every
    return [p for p in every if any(p.name.startswith(a) or p.stem == a for a in args)]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    if command == "skeleton":
        for english in chosen(args):
            print(editions.skeleton(english, LANG).relative_to(editions.ROOT))
    elif command in ("build", "run"):
        for english in chosen(args):
            target = editions.build(english, LANG)
            if command == "run":
                subprocess.run([sys.executable, str(Path(__file__).with_name("run_notebooks.py")), str(target)],
                               check=True)
                own = editions.share_outputs(english, LANG)
                print(f"{target.relative_to(editions.ROOT)}: {own} code cells with outputs of their own")
            else:
                print(target.relative_to(editions.ROOT))
    elif command == "status":
        found = [f"{english.name}: {p}" for english in editions.english_notebooks()
                 for p in editions.problems(english, LANG)]
        found += [p for module in catalogues.speaking_modules() for p in catalogues.problems(module, LANG)]
        print("\n".join(found) or "every edition and catalogue is in step")
        return 1 if found else 0
    elif command == "done":
        if len(args) < 2 or len(chosen(args[:1])) != 1:
            print("usage: translations.py done NN CELL_ID [CELL_ID ...] (one notebook)")
            return 2
        unknown = editions.mark_translated(chosen(args[:1])[0], LANG, args[1:])
        if unknown:
            print("no translation entry for: " + " ".join(unknown) + " (scripts/translations.py skeleton adds them)")
            return 1
    elif command == "catalogue":
        modules = [Path(a) for a in args] or catalogues.speaking_modules()
        for module in modules:
            print(catalogues.update(module, LANG).relative_to(editions.ROOT))
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
