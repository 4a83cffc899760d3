"""Regenerate archc/frontend/grammar.json after a change to grammar.lark or a lark upgrade:
`python -m archc.frontend.maketables --write` (`make tables`). A leaf script: nothing imports it.

Input: the grammar and the parser options (archc.frontend.expressions). Output: the file of
analysed LALR tables that `tables.load` reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

from archc.frontend import expressions, tables


def write_tables(path: Path | None = None) -> Path:
    """Build the parser from the grammar and write its tables (`tables.write`)."""
    grammar = expressions.grammar_text()
    text = tables.dumps(expressions.build_parser(grammar), tables.key(grammar, expressions.OPTIONS))
    return tables.write(text, path)


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(f"usage: {tables.REGENERATE}", file=sys.stderr)
        return 2
    print(f"wrote {write_tables()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
