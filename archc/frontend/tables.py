"""The analysed LALR tables of `grammar.lark`, shipped as JSON package data (no pickle, no cache).

Input: the grammar text, a function that builds the lark parser from it, and the options a
loaded parser needs (the post-lexer). Output: a `Lark` parser, loaded from `grammar.json` when
that file was written for this exact grammar and lark version, else built from the grammar.

Why: building the tables is most of a cold start (about half a second), so they were kept in
lark's own cache, which is a pickle read back on every start from a user or shared temporary
folder: anyone able to write there ran code in the next archc process. JSON holds only data,
and lark's `Serialize` protocol (the one `lark.tools.standalone` uses) rebuilds the parser from
plain data, instantiating only lark's own grammar classes. The file ships with the package and
is never written at run time; a test checks it is current.

Regenerate after changing the grammar or upgrading lark (this module knows no grammar: the
parser module builds and hands it over):

    python -m archc.frontend.maketables --write
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import deque
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark
from lark.grammar import Rule
from lark.lark import _LOAD_ALLOWED_OPTIONS
from lark.lexer import TerminalDef

FORMAT = 1
TABLES = "grammar.json"
REGENERATE = "python -m archc.frontend.maketables --write"
# JSON has no tuples and only string keys; these tag the two (lark's data holds both)
_DICT, _TUPLE = "$dict", "$tuple"


def key(grammar: str, options: dict[str, Any]) -> str:
    """What the tables depend on: the grammar text, lark's version and the build options."""
    described = repr(sorted((k, repr(v)) for k, v in options.items()))
    text = f"{FORMAT}\0{lark.__version__}\0{described}\0{grammar}"
    return hashlib.sha256(text.encode()).hexdigest()


def encode(value: Any) -> Any:
    """lark's serialised data → JSON-ready data, exactly (tuples and non-string keys tagged)."""
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith("$") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {_DICT: [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {_TUPLE: [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, str):
        return str(value)  # a lark Token (a str subclass) as its text
    if value is None or type(value) in (bool, int, float):
        return value
    raise TypeError(f"lark's tables hold a {type(value).__name__}, which JSON cannot keep")


def _decode_object(obj: dict[str, Any]) -> Any:
    """json's object hook: undo `encode`'s tags (keys that were lists were tuples)."""
    if len(obj) == 1 and _DICT in obj:
        return {tuple(k) if isinstance(k, list) else k: v for k, v in obj[_DICT]}
    if len(obj) == 1 and _TUPLE in obj:
        return tuple(obj[_TUPLE])
    return obj


def decode(text: str) -> Any:
    return json.loads(text, object_hook=_decode_object)


def _canonical_table(table: dict[str, Any]) -> dict[str, Any]:
    """The LALR table with states and tokens numbered independently of string hashing.

    lark numbers states in an order that depends on PYTHONHASHSEED, so the same grammar would
    give a different file on every run; renumbering (tokens by name, states breadth first from
    the start states) makes the shipped file reproducible and its freshness test exact.
    """
    tokens: dict[int, str] = table["tokens"]
    token_ids = {name: index for index, name in enumerate(sorted(tokens.values()))}
    states: dict[int, dict[int, tuple[int, Any]]] = table["states"]
    order: list[int] = []
    seen: set[int] = set()
    queue = deque([table["start_states"][s] for s in sorted(table["start_states"])]
                  + [table["end_states"][s] for s in sorted(table["end_states"])])
    while queue:
        state = queue.popleft()
        if state in seen:
            continue
        seen.add(state)
        order.append(state)
        actions = sorted(states[state].items(), key=lambda item: tokens[item[0]])
        queue.extend(arg for _, (action, arg) in actions if action == 0)  # 0 is Shift
    order += sorted(set(states) - seen)  # unreachable states (none in practice)
    new = {old: index for index, old in enumerate(order)}
    return {
        "tokens": {index: name for name, index in token_ids.items()},
        "states": {
            new[state]: {
                # a list, not a tuple: lark only unpacks it, and JSON then needs no tag for
                # the 3,000 actions (each tag costs a call of the decoder's hook)
                token_ids[tokens[token]]: [action, new[arg] if action == 0 else arg]
                for token, (action, arg) in sorted(states[state].items(),
                                                   key=lambda item: tokens[item[0]])
            }
            for state in order
        },
        "start_states": {s: new[v] for s, v in sorted(table["start_states"].items())},
        "end_states": {s: new[v] for s, v in sorted(table["end_states"].items())},
    }


def dumps(parser: Lark, grammar_key: str) -> str:
    """A built parser as the JSON text of `grammar.json`."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    # options given again when loading (the post-lexer object) are not data: left out, as
    # lark's own Lark.save does
    data["options"] = {k: v for k, v in data["options"].items() if k not in _LOAD_ALLOWED_OPTIONS}
    data["parser"]["parser"] = _canonical_table(data["parser"]["parser"])
    payload = {"key": grammar_key, "lark": lark.__version__, "regenerate": REGENERATE,
               "data": encode(data), "memo": encode(memo)}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"


def shipped() -> str | None:
    """The text of the shipped tables, or None if the file is missing."""
    try:
        return resources.files("archc.frontend").joinpath(TABLES).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def load(grammar: str, options: dict[str, Any], build: Callable[[], Lark],
         load_options: dict[str, Any]) -> Lark:
    """The parser from the shipped tables if they match `grammar`, else `build()`."""
    text = shipped()
    if text is not None:
        try:
            payload = decode(text)
            if payload.get("key") == key(grammar, options):
                parser: Lark = Lark._load_from_dict(  # type: ignore[no-untyped-call]
                    payload["data"], payload["memo"], **load_options)
                return parser
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged file: building from the grammar is slower but correct
    return build()


def write(text: str, path: Path | None = None) -> Path:
    """Write tables (`dumps`) next to the grammar, or to `path`, atomically."""
    target = path or Path(str(resources.files("archc.frontend").joinpath(TABLES)))
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target
