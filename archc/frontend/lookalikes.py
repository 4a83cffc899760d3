"""Non-ASCII characters where a spec wants ASCII: what they are, and what was probably meant.

Input: a word of a spec that holds a non-ASCII character (`rеlu` with a Cyrillic е, `ﬁlter`
with a ligature, `ｃｏｎｖ` in full width) and the names the spec could have meant. Output: the
words of an ArchcError: the character's Unicode name, and "did you mean 'relu'?" when the
word's ASCII skeleton is a known name.

Names stay ASCII identifiers everywhere (an entry name is a Python attribute and a state_dict
key): a look-alike is never folded silently, because `cоnv` and `conv` would then be one
name to Python and two to the spec, or the other way round. The skeleton is only a
suggestion: NFKC (which folds ligatures and full-width letters) and then the table below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# The Cyrillic and Greek letters that look like Latin ones in common fonts (a subset of
# Unicode's confusables.txt, UTS #39). A small table rather than a dependency: archc needs
# only the letters a keyboard layout switch produces, and the full data is megabytes.
LOOKALIKES = {
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j",
    "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y",
    "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "ӏ": "l",
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K",
    "М": "M", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S",
    "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    # Greek
    "α": "a", "ο": "o", "ν": "v", "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "ϲ": "c", "ϳ": "j", "ѵ": "v",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C",
    # punctuation that word processors and keyboards put in place of ASCII
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2032": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00d7": "*", "\u00f7": "/",
}
ASCII_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def skeleton(text: str) -> str:
    """`text` with look-alikes replaced by the ASCII they look like (NFKC first)."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(LOOKALIKES.get(c, c) for c in folded)


def describe(char: str) -> str:
    """`'е' (CYRILLIC SMALL LETTER IE, U+0435)`."""
    name = unicodedata.name(char, "an unnamed character")
    shown = char if char.isprintable() and not char.isspace() else repr(char)[1:-1]
    return f"'{shown}' ({name}, U+{ord(char):04X})"


def word_at(text: str, index: int) -> tuple[int, int]:
    """The start and end of the word (letters, digits and _ of any script) around `index`."""
    start = index
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        start -= 1
    end = index
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    return start, max(end, index + 1)


def known_names(text: str, extra: Iterable[str] = ()) -> set[str]:
    """Names a look-alike may stand for: the ops, the words of the language, and the ASCII
    names the spec itself uses."""
    from archc.ops import OPS  # only on this error path: the registry is torch-free

    return {*OPS, *extra, *re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}


def explain(word: str, what: str, known: set[str]) -> tuple[str, list[str], list[str]]:
    """Message, notes and suggestions for a `word` that holds a non-ASCII character."""
    odd = next(c for c in word if not c.isascii())
    ascii_form = skeleton(word)
    if odd.isspace():
        return (f"{describe(odd)} is not an ASCII space", ["hint: write a plain space"], [])
    if not (odd.isalnum() or odd == "_"):
        fold = skeleton(odd)
        hint = f"hint: write the ASCII '{fold}'" if fold.isascii() and fold else \
            "hint: only ASCII characters may stand outside strings and comments"
        return (f"{describe(odd)} is not part of the spec language", [hint], [])
    notes = [f"{what} must be ASCII letters, digits and _: a look-alike letter from another "
             "alphabet makes a different name (archc never folds one into the other)"]
    suggestions: list[str] = []
    if ASCII_NAME.match(ascii_form) and ascii_form != word:
        if ascii_form in known:
            suggestions.append(ascii_form)
        else:
            notes.append(f"hint: in ASCII letters it reads '{ascii_form}'")
    return (f"{what} '{word}' holds {describe(odd)}, which is not an ASCII letter",
            notes, suggestions)
