"""The YAML spelling: YAML text to the AST.

Input: the text of a `*.yaml` spec and its path. Output: an `ast.Spec`. YAML is read with the
safe composer (no tags that build objects, no code), node by node so that every AST node keeps
the line and column it came from; layer strings and expressions inside it are parsed by the
lark grammar in `expressions.py`. Before anything is read, the node graph is checked without
recursion: alias cycles, nesting deeper than MAX_DEPTH, alias bombs and keys given twice in
one mapping are located errors. PyYAML's own messages are explained in a user's terms.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

from archc.errors import ArchcError, Source, Span, suggest
from archc.frontend import ast, lookalikes
from archc.frontend.expressions import (
    MAX_INT_DIGITS,
    Locate,
    max_tokens,
    parse_expression,
    parse_layer,
    parse_name_template,
    reading,
)
from archc.names import HYPHENATED
from archc.ops import MERGES  # YAML spells a merge as a key: the registry says which keys

TOP_LEVEL_KEYS = (
    "archc", "name", "doc", "import", "params", "input", "inputs", "blocks", "layers", "outputs",
    "training_outputs",
)
BLOCK_KEYS = ("params", "body", "inline", "doc")
WORDS = (*TOP_LEVEL_KEYS, *BLOCK_KEYS, *MERGES, "repeat", "as", "if", "then", "else")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FLOW_HINT = ("hint: in a one-line [ ] list YAML splits at every comma and bracket; write a "
             "one-line sequence as `conv(64, 3); bn; relu`, or use a block list (- item)")
# libyaml's safe loader where PyYAML was built with it (several times faster on large specs);
# both keep node marks and construct no Python objects
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CORE_TAGS = frozenset(f"tag:yaml.org,2002:{kind}"
                      for kind in ("str", "int", "float", "bool", "null", "seq", "map"))
MERGE_TAG = "tag:yaml.org,2002:merge"
MAX_NODES = 100_000  # YAML aliases can make a small file a huge tree; refuse before it is walked
NODES_PER_TOKEN = 5  # a spec allowed more tokens (--max-tokens) may hold as many more nodes


def max_nodes() -> int:
    """The YAML nodes a spec may expand to: MAX_NODES, or more for a spec read with a token
    limit raised past the default (a 100,000-layer chain has 300,000)."""
    return max(MAX_NODES, NODES_PER_TOKEN * max_tokens())
MAX_DEPTH = 100  # lists and mappings inside each other; real specs nest about 10 deep


class _Refused(Exception):
    """A problem the checking composer found, with the mark of the text at fault."""

    def __init__(self, message: str, mark: Any, notes: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark
        self.notes = notes


def _too_deep_notes() -> list[str]:
    return [f"lists and mappings nest at most {MAX_DEPTH} levels deep: name the inner parts "
            "(as entries or blocks) to flatten them"]


class _CheckingLoader(yaml.SafeLoader):
    """The pure-Python safe composer, refusing (at the offending mark) an alias to a node that
    contains it and nesting deeper than MAX_DEPTH, before either overflows Python's stack."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.open_anchors: dict[str, Any] = {}
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) and event.anchor in self.open_anchors:
            raise _Refused(
                f"the alias '*{event.anchor}' refers to a node that contains it", event.start_mark,
                [f"the anchor '&{event.anchor}' is on line "
                 f"{self.open_anchors[event.anchor].line + 1}: a spec cannot contain itself",
                 "hint: write the repeated part out, or make it a block and call it"])
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused("the spec nests too deeply", event.start_mark, _too_deep_notes())
        anchor = getattr(event, "anchor", None)
        if anchor is not None and not isinstance(event, yaml.AliasEvent):
            self.open_anchors[anchor] = event.start_mark
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.pop(anchor, None)


class _Positions:
    """Line and column (1-based, lines split at \\n only, as Source and the parsers count)
    of a character index. PyYAML's marks count \\r, U+0085, U+2028 and U+2029 as line
    breaks too, so their line numbers can disagree with the file as shown; their character
    index does not."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def at(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index) - 1
        return line + 1, index - self.starts[line] + 1

    def index(self, line: int, column: int) -> int:
        return self.starts[min(line, len(self.starts)) - 1] + column - 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Graph:
    """One walk over the composed nodes, without recursion: cycles, depth (aliases
    expanded), expanded size, keys given twice, and where multi-line scalars lie (a '#'
    inside one is text, not a comment)."""

    def __init__(self, reader: _Reader, text: str) -> None:
        self.reader = reader
        self.text = text
        self.scalar_ranges: list[tuple[int, int]] = []

    def check(self, root: yaml.Node) -> None:
        limit = max_nodes()
        done: dict[int, tuple[int, int]] = {}  # id → (height, expanded size)
        visiting: set[int] = set()
        stack: list[tuple[yaml.Node, Iterator[yaml.Node]]] = [(root, iter(_children(root)))]
        visiting.add(id(root))
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                visiting.discard(id(node))
                kids = [done[id(c)] for c in _children(node)]
                done[id(node)] = (1 + max((h for h, _ in kids), default=0),
                                  min(1 + sum(s for _, s in kids), limit + 1))
                if done[id(node)][1] > limit:  # the first (innermost) node too large
                    raise self.reader.error(f"spec too large: more than {limit:,} YAML "
                                            "nodes once its aliases are expanded", node,
                                            notes=["is it an alias bomb? Each alias here "
                                                   "repeats all that its anchor holds"])
                self.node_done(node)
                continue
            if id(child) in visiting:
                raise self.cycle(child)
            if id(child) in done:
                if len(stack) + done[id(child)][0] > MAX_DEPTH:
                    raise self.reader.error("the spec nests too deeply once its aliases are "
                                            "expanded", child, notes=_too_deep_notes())
                continue
            if len(stack) >= MAX_DEPTH:
                raise self.reader.error("the spec nests too deeply", child,
                                        notes=_too_deep_notes())
            visiting.add(id(child))
            stack.append((child, iter(_children(child))))
        if done[id(root)][1] > limit:
            raise self.reader.error(f"spec too large: more than {limit:,} YAML nodes once "
                                    "its aliases are expanded", root,
                                    notes=["is it an alias bomb?"])

    def cycle(self, node: yaml.Node) -> ArchcError:
        """An alias inside the node it names: find the alias itself with the checking
        composer (the composed graph no longer knows where it was written)."""
        try:
            yaml.compose(self.text, Loader=_CheckingLoader)
        except _Refused as refused:
            return self.reader.error_at(refused.mark.index, refused.message,
                                        notes=refused.notes)
        except yaml.YAMLError:
            pass
        return self.reader.error("an alias refers to a node that contains it", node,
                                 notes=["a spec cannot contain itself"])

    def node_done(self, node: yaml.Node) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], yaml.Node] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    continue
                first = seen.setdefault((key.tag, key.value), key)
                if first is not key:
                    line = self.reader.span(first).line
                    raise self.reader.error(
                        f"key '{key.value}' is given twice", key,
                        notes=[f"it is first given on line {line}; YAML would silently keep "
                               "only the last one", "hint: remove one of them"])
        elif isinstance(node, yaml.ScalarNode):
            start, end = node.start_mark.index, node.end_mark.index
            if "\n" in self.text[start:end]:
                self.scalar_ranges.append((start, end))

    def comments(self) -> tuple[ast.Comment, ...]:
        """The file's comments, less the '#' lines inside multi-line scalars."""
        found = ast.scan_comments(self.text, yaml=True)
        if not self.scalar_ranges:
            return found
        ranges = sorted(self.scalar_ranges)
        starts = [r[0] for r in ranges]
        positions = self.reader.positions
        kept = []
        for comment in found:
            offset = positions.index(comment.line, comment.column)
            i = bisect.bisect_right(starts, offset) - 1
            inside = i >= 0 and ranges[i][0] < offset < ranges[i][1] and not self.on_header(
                ranges[i][0], offset)
            if not inside:
                kept.append(comment)
        return tuple(kept)

    def on_header(self, start: int, offset: int) -> bool:
        """A comment after a block scalar's `|` or `>` on its own line is a real comment."""
        return self.text[start:start + 1] in ("|", ">") and "\n" not in self.text[start:offset]


class _Reader:
    comments: tuple[ast.Comment, ...] = ()

    def __init__(self, source: Source) -> None:
        self.source = source
        self.positions = _Positions(source.text)
        self.visited = 0
        self.max_nodes = max_nodes()
        self.known: set[str] | None = None

    # -- positions
    def span(self, node: yaml.Node) -> Span:
        line, column = self.positions.at(node.start_mark.index)
        end_line, end_column = self.positions.at(node.end_mark.index)
        return Span(self.source, line, column, end_line, end_column)

    def text_start(self, node: yaml.ScalarNode) -> tuple[int, int]:
        """Where the scalar's content starts (after an opening quote)."""
        quoted = node.style in ("'", '"')
        return self.positions.at(node.start_mark.index + (1 if quoted else 0))

    def located_text(self, node: yaml.ScalarNode) -> tuple[str, int, int, Locate | None]:
        """A scalar's text, where it starts, and for a scalar whose characters are not where
        a plain shift puts them, a map from positions in the text to positions in the file.

        A plain scalar continued over several lines is read from the file as written (YAML
        folds its line breaks; here they separate layers), so positions stay exact. A quoted
        scalar with escapes or line breaks, and a block scalar (| or >: indentation removed,
        lines folded), are read as YAML reads them, with every character mapped back to the
        file."""
        line, column = self.text_start(node)
        start, end = node.start_mark.index, node.end_mark.index
        text = self.source.text
        if node.style in (None, ""):
            if "\n" in text[start:end]:
                return text[start:end], line, column, None
            return node.value, line, column, None
        if node.style in ("'", '"'):
            if text[start + 1:end - 1] == node.value:
                return node.value, line, column, None
            return node.value, line, column, self.aligned(node.value, start + 1, end - 1)
        content = text.find("\n", start, end)  # a block scalar starts on the next line
        content = end if content < 0 else content + 1
        return node.value, line, column, self.aligned(node.value, content, end)

    def aligned(self, value: str, first: int, last: int) -> Locate:
        """Positions in `value` → positions in the file text[first:last] it was read from.

        YAML changes only whitespace (indentation, folded line breaks) and escapes (\\", '',
        \\x41), so each non-space character of the value is matched with the next equal one of
        the file (looking a few characters ahead past an escape)."""
        text = self.source.text
        offsets: list[int] = []
        raw = first
        for char in value:
            if char.isspace():
                offsets.append(min(raw, last))
                if raw < last and text[raw] == char:
                    raw += 1
                continue
            while raw < last and text[raw].isspace() and text[raw] != char:
                raw += 1
            ahead = text.find(char, raw, min(last, raw + 10))
            if ahead >= 0:
                offsets.append(ahead)
                raw = ahead + 1
            else:
                offsets.append(min(raw, last))
        lines = [0] + [i + 1 for i, c in enumerate(value) if c == "\n"]
        positions = self.positions

        def locate(line: int, column: int) -> tuple[int, int]:
            index = lines[min(max(line, 1), len(lines)) - 1] + column - 1
            if 0 <= index < len(offsets):
                return positions.at(offsets[index])
            return positions.at(offsets[-1] + 1 if offsets else first)

        return locate

    def error(self, message: str, node: yaml.Node, **kwargs: object) -> ArchcError:
        return ArchcError(message, self.span(node), **kwargs)  # type: ignore[arg-type]

    def error_at(self, index: int, message: str, **kwargs: object) -> ArchcError:
        line, column = self.positions.at(index)
        return ArchcError(message, Span(self.source, line, column, line, column + 1),
                          **kwargs)  # type: ignore[arg-type]

    def non_ascii(self, node: yaml.Node, text: str, what: str) -> ArchcError:
        """A name or key with a look-alike letter: which character, and what was meant."""
        if self.known is None:
            self.known = lookalikes.known_names(self.source.text, WORDS)
        odd = next(i for i, c in enumerate(text) if not c.isascii())
        word = text[slice(*lookalikes.word_at(text, odd))]
        message, notes, suggestions = lookalikes.explain(word, what, self.known)
        return self.error(message, node, notes=notes, suggestions=suggestions)

    def merge_key(self, node: yaml.Node) -> ArchcError:
        return self.error("YAML merge keys ('<<') are not supported in a spec", node,
                          notes=["a merge copies keys silently, which hides what an entry "
                                 "really holds", "hint: write the keys out, or make the "
                                 "shared part a block and call it"])

    def count(self, node: yaml.Node) -> None:
        self.visited += 1
        if node.tag == MERGE_TAG:
            raise self.merge_key(node)
        if node.tag not in CORE_TAGS:
            raise self.error(f"YAML tag {node.tag!r} is not allowed", node,
                             notes=["a spec is data: it never constructs objects or runs code"],
                             expected="plain values, lists and mappings")
        if self.visited > self.max_nodes:
            raise self.error(
                f"spec too large: more than {self.max_nodes:,} YAML nodes (are aliases "
                "expanding it?)",
                node,
            )

    # -- scalars and expressions
    def is_string(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str"

    def string(self, node: yaml.Node, what: str) -> str:
        if node.tag == MERGE_TAG:
            raise self.merge_key(node)
        if not self.is_string(node):
            raise self.error(f"{what} must be a string", node, found=_describe(node))
        assert isinstance(node, yaml.ScalarNode)
        return str(node.value)

    def identifier(self, node: yaml.Node, what: str) -> str:
        text = self.string(node, what) if self.is_string(node) else str(getattr(node, "value", ""))
        if not text.isascii():
            raise self.non_ascii(node, text, what)
        if not IDENTIFIER.match(text):
            raise self.error(
                f"{what} must be a name (letters, digits and _, not starting with a digit)",
                node,
                found=repr(text),
            )
        return text

    def expression(self, node: yaml.Node) -> ast.Expr:
        self.count(node)
        span = self.span(node)
        if isinstance(node, yaml.SequenceNode):
            return ast.ListExpr(tuple(self.expression(item) for item in node.value), span)
        if isinstance(node, yaml.MappingNode):
            raise self.error("expected a value (a number, string, list or expression)", node,
                             found="a mapping")
        assert isinstance(node, yaml.ScalarNode)
        if node.tag == "tag:yaml.org,2002:str":
            text, line, column, locate = self.located_text(node)
            return parse_expression(text, self.source, line, column, locate)
        digits = node.value.lstrip("+-").replace("_", "").lstrip("0")
        if node.tag == "tag:yaml.org,2002:int" and len(digits) > MAX_INT_DIGITS:
            # Python's int() itself refuses more than 4,300 digits
            raise self.error("number too large", node,
                             found=f"an integer of {len(digits):,} digits",
                             notes=[f"integers have at most {MAX_INT_DIGITS} digits; sizes "
                                    "must fit 64 bits (at most 19 digits)"])
        value = _scalar(node) if node.value else None
        if node.tag == "tag:yaml.org,2002:null":
            value = None
        if not isinstance(value, (int, float, bool, type(None))):
            raise self.error("expected a value", node, found=_describe(node))
        return ast.Literal(value, span)

    def params(self, node: yaml.Node) -> tuple[ast.Param, ...]:
        """`[out, k, {s: 1}]` (required names, then defaults) or `{num_classes: 10}`."""
        if isinstance(node, yaml.MappingNode):
            return tuple(
                ast.Param(self.identifier(key, "a parameter name"), self.expression(value),
                          self.span(key))
                for key, value in node.value
            )
        if not isinstance(node, yaml.SequenceNode):
            raise self.error("params must be a list of names (with {name: default} items) "
                             "or a mapping of names to defaults", node, found=_describe(node))
        params = []
        for item in node.value:
            if isinstance(item, yaml.MappingNode) and len(item.value) == 1:
                key, value = item.value[0]
                params.append(ast.Param(self.identifier(key, "a parameter name"),
                                        self.expression(value), self.span(key)))
            else:
                params.append(ast.Param(self.identifier(item, "a parameter name"), None,
                                        self.span(item)))
        return ast.unique_params(tuple(params))

    # -- entries
    def entry(self, node: yaml.Node) -> ast.Entry:
        self.count(node)
        span = self.span(node)
        if isinstance(node, yaml.SequenceNode):
            if node.flow_style:
                self.check_flow(node)
            return ast.Sequence(tuple(self.entry(item) for item in node.value), span)
        if isinstance(node, yaml.ScalarNode):
            if not self.is_string(node) or not node.value:
                missing = node.tag == "tag:yaml.org,2002:null" or not node.value
                raise self.error("expected a layer, e.g. conv(64, 3) or @name", node,
                                 found=_describe(node),
                                 notes=["hint: no layer is written here: put it after the "
                                        "':' (`name: conv(64, 3)`) or the '- ', or indented "
                                        "on the lines below"] if missing else [])
            text, line, column, locate = self.located_text(node)
            return parse_layer(text, self.source, line, column, locate)
        assert isinstance(node, yaml.MappingNode)
        keys = {self.string(key, "a key"): (key, value) for key, value in node.value}
        for keyword, reader in self._constructs().items():
            if keyword in keys:
                return reader(node, keys)
        if len(node.value) != 1:
            names = ", ".join(keys)
            raise self.error(
                "an entry names one thing", node, found=f"several keys: {names}",
                notes=["write each named entry as its own list item (- name: layer)"],
            )
        key, value = node.value[0]
        if self.is_string(key) and "{" in key.value and key.value.isascii():
            return ast.Named(key.value, self.entry(value), self.span(key),
                             self.name_template(key))
        if self.is_string(key) and HYPHENATED.match(key.value):  # `block1-0`: a key only
            return ast.Named(key.value, self.entry(value), self.span(key))
        name = self.identifier(key, "an entry name")
        return ast.Named(name, self.entry(value), self.span(key))

    def name_template(self, key: yaml.ScalarNode) -> tuple[str | ast.Expr, ...]:
        line, column = self.text_start(key)
        return parse_name_template(key.value, self.source, line, column, self.span(key))

    def check_flow(self, node: yaml.SequenceNode) -> None:
        """YAML splits `[conv(64, 3), relu]` at the comma inside the call: say so."""
        for item in node.value:
            if self.is_string(item) and item.value.count("(") != item.value.count(")"):
                raise self.error(
                    "YAML split a layer at a comma inside a one-line [ ] list", item,
                    found=repr(item.value), notes=[FLOW_HINT])

    def _constructs(self) -> dict[str, Callable[[yaml.MappingNode, _Keys], ast.Entry]]:
        constructs: dict[str, Callable[[yaml.MappingNode, _Keys], ast.Entry]] = {
            merge: self._merge(merge) for merge in MERGES
        }
        constructs["repeat"] = self.repeat
        constructs["if"] = self.condition
        return constructs

    def _merge(self, op: str) -> Callable[[yaml.MappingNode, _Keys], ast.Entry]:
        def read(node: yaml.MappingNode, keys: _Keys) -> ast.Entry:
            _, branches_node = keys[op]
            if not isinstance(branches_node, yaml.SequenceNode):
                raise self.error(f"{op} takes a list of branches", branches_node,
                                 found=_describe(branches_node))
            branches = tuple(self.entry(item) for item in branches_node.value)
            for name, (key, _) in keys.items():
                if not name.isascii():
                    raise self.non_ascii(key, name, f"the option of {op}")
            args = tuple(
                ast.Argument(name, self.expression(value), self.span(key))
                for name, (key, value) in keys.items()
                if name != op
            )
            return ast.Merge(op, branches, args, self.span(node))

        return read

    def repeat(self, node: yaml.MappingNode, keys: _Keys) -> ast.Entry:
        self._only(keys, ("repeat", "as", "body"), "repeat")
        if "body" not in keys:
            raise self.error("repeat needs a body", node, expected="{repeat: N, as: i, body: ...}")
        var = self.identifier(keys["as"][1], "a loop variable") if "as" in keys else None
        return ast.Repeat(self.expression(keys["repeat"][1]), var, self.entry(keys["body"][1]),
                          self.span(node))

    def condition(self, node: yaml.MappingNode, keys: _Keys) -> ast.Entry:
        self._only(keys, ("if", "then", "else"), "if")
        if "then" not in keys:
            raise self.error("if needs a then", node, expected="{if: cond, then: ..., else: ...}")
        orelse = self.entry(keys["else"][1]) if "else" in keys else None
        return ast.If(self.expression(keys["if"][1]), self.entry(keys["then"][1]), orelse,
                      self.span(node))

    def _only(self, keys: _Keys, allowed: tuple[str, ...], what: str) -> None:
        for name, (key, _) in keys.items():
            if not name.isascii():
                raise self.non_ascii(key, name, f"the key in {what}")
            if name not in allowed:
                raise self.error(f"unknown key '{name}' in {what}", key,
                                 expected=", ".join(allowed), suggestions=suggest(name, allowed))

    # -- declarations
    def block(self, name_node: yaml.Node, node: yaml.Node) -> ast.BlockDef:
        name = self.identifier(name_node, "a block name")
        span = self.span(name_node)
        looks_like_definition = isinstance(node, yaml.MappingNode) and any(
            self.is_string(k) and (k.value in BLOCK_KEYS or suggest(k.value, BLOCK_KEYS))
            for k, _ in node.value)
        if not looks_like_definition:
            return ast.BlockDef(name, (), self.entry(node), False, None, span)
        assert isinstance(node, yaml.MappingNode)
        keys = {self.string(key, "a key"): (key, value) for key, value in node.value}
        self._only(keys, BLOCK_KEYS, f"block '{name}'")
        if "body" not in keys:
            raise self.error(f"block '{name}' needs a body", node,
                             expected="{params: [...], body: ...}")
        params = self.params(keys["params"][1]) if "params" in keys else ()
        inline = False
        if "inline" in keys:
            inline_node = keys["inline"][1]
            if not (isinstance(inline_node, yaml.ScalarNode)
                    and inline_node.tag == "tag:yaml.org,2002:bool"):
                raise self.error("inline must be true or false", inline_node)
            inline = bool(_scalar(inline_node))
        doc = self.string(keys["doc"][1], "doc") if "doc" in keys else None
        return ast.BlockDef(name, params, self.entry(keys["body"][1]), inline, doc, span)

    def inputs(self, keys: _Keys) -> tuple[ast.InputDecl, ...]:
        if "input" in keys and "inputs" in keys:
            raise self.error("give either input or inputs, not both", keys["inputs"][0])
        if "input" in keys:
            key, value = keys["input"]
            return (ast.InputDecl("x", self.dims(value), self.span(key)),)
        if "inputs" in keys:
            key, value = keys["inputs"]
            if not isinstance(value, yaml.MappingNode):
                raise self.error("inputs must map names to shapes", value,
                                 expected="inputs: {image: [3, 224, 224], meta: [12]}")
            return tuple(
                ast.InputDecl(self.identifier(k, "an input name"), self.dims(v), self.span(k))
                for k, v in value.value
            )
        return ()

    def dims(self, node: yaml.Node) -> tuple[ast.Expr, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error("an input shape is a list of sizes without the batch dimension",
                             node, expected="[3, 224, 224]", found=_describe(node))
        return tuple(self.expression(item) for item in node.value)

    def spec(self, root: yaml.Node, default_name: str) -> ast.Spec:
        if not isinstance(root, yaml.MappingNode):
            raise self.error("a spec is a mapping with at least 'layers'", root,
                             found=_describe(root))
        keys: _Keys = {}
        for key, value in root.value:
            name = self.string(key, "a key")
            if not name.isascii():
                raise self.non_ascii(key, name, "the key")
            if name not in TOP_LEVEL_KEYS:
                raise self.error(f"unknown key '{name}'", key, expected=", ".join(TOP_LEVEL_KEYS),
                                 suggestions=suggest(name, TOP_LEVEL_KEYS))
            if name in keys:
                raise self.error(f"key '{name}' appears twice", key)
            keys[name] = (key, value)
        if "archc" in keys:
            version = keys["archc"][1]
            if getattr(version, "value", None) != "1":
                raise self.error("unsupported format version", version, expected="archc: 1",
                                 found=f"archc: {getattr(version, 'value', '?')}")
        imports = self.imports(keys["import"][1]) if "import" in keys else ()
        if "layers" not in keys and not imports:
            raise self.error("a spec needs 'layers': the body of the network", root)
        name = self.identifier(keys["name"][1], "the network name") if "name" in keys \
            else default_name
        doc = self.string(keys["doc"][1], "doc") if "doc" in keys else None
        params = self.params(keys["params"][1]) if "params" in keys else ()
        blocks_node = keys["blocks"][1] if "blocks" in keys else None
        blocks: list[ast.BlockDef] = []
        if blocks_node is not None:
            if not isinstance(blocks_node, yaml.MappingNode):
                raise self.error("blocks must map block names to definitions", blocks_node)
            blocks = [self.block(k, v) for k, v in blocks_node.value]
        if "layers" in keys:
            body = self.entry(keys["layers"][1])
            if not isinstance(body, ast.Sequence):
                body = ast.Sequence((body,), body.span)
        else:  # the network of the spec it imports
            body = ast.Sequence((), self.span(root))
        outputs, output_keys = self.outputs(keys["outputs"][1]) if "outputs" in keys \
            else ((), ())
        training, training_keys = self.outputs(keys["training_outputs"][1]) \
            if "training_outputs" in keys else ((), ())
        return ast.Spec(name, doc, params, self.inputs(keys), tuple(blocks), body, outputs,
                        self.span(root), self.comments, imports, output_keys=output_keys,
                        training_outputs=training, training_output_keys=training_keys)

    def outputs(self, node: yaml.Node) -> tuple[tuple[ast.Ref, ...], tuple[str, ...]]:
        """`outputs` (or `training_outputs`): a name, a list of names (a tuple), or a
        mapping of keys to names (a dict: `{out: classifier, aux: aux_classifier}`), with its
        keys."""
        if isinstance(node, yaml.MappingNode):
            pairs = [(self.identifier(k, "an output's key"), self.output(v))
                     for k, v in node.value]
            if len({k for k, _ in pairs}) != len(pairs):
                raise self.error("an output's key is given twice", node,
                                 expected="each key once")
            return tuple(ref for _, ref in pairs), tuple(k for k, _ in pairs)
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        return tuple(self.output(item) for item in items), ()

    def imports(self, node: yaml.Node) -> tuple[ast.Import, ...]:
        """`import: file.yaml`, or a list of files."""
        items = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not items:
            raise self.error("import names a spec file, or a list of them", node,
                             expected="import: family.yaml", found="an empty list")
        found = []
        for item in items:
            if not self.is_string(item):
                raise self.error("import names a spec file, or a list of them", item,
                                 expected="import: family.yaml", found=_describe(item))
            found.append(ast.Import(str(item.value), self.span(item)))
        return tuple(found)

    def output(self, node: yaml.Node) -> ast.Ref:
        text = self.string(node, "an output")
        if not text.isascii():
            raise self.non_ascii(node, text, "the output name")
        line, column = self.text_start(node)  # type: ignore[arg-type]
        layer = parse_layer(text if text.startswith("@") else "@" + text, self.source, line,
                            column - (0 if text.startswith("@") else 1))
        if not isinstance(layer, ast.Ref):
            raise self.error("an output names an entry", node, expected="a name such as logits")
        return layer


_Keys = dict[str, tuple[yaml.Node, yaml.Node]]


_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _scalar(node: yaml.ScalarNode) -> Any:
    """A plain scalar's value by its resolved tag (int, float, bool, null), as the safe loader
    builds it, without parsing its text again as a YAML document."""
    construct = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    return None if construct is None else construct(_CONSTRUCTOR, node)


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    return f"{kind} {node.value!r}" if node.value else "nothing"




# PyYAML's problems, in a user's words: (pattern of the problem, explanation, hint); the
# first that matches is used. {0} is the first group of the pattern.
_EXPLANATIONS: list[tuple[str, str, str]] = [
    (r"found character '@' that cannot start any token",
     "YAML reserves '@' at the start of a value", "hint: quote a reference, YAML reserves @: "
     "- '@name'"),
    (r"found character '(.)' that cannot start any token",
     "YAML reserves '{0}' at the start of a value", "hint: quote the value: '{0}...'"),
    (r"expected <block end>, but found '([\]}])'",
     "this '{0}' closes nothing: no bracket is open here",
     "hint: remove it, or add the '[' or '{{' it should close"),
    (r"expected <block end>, but found",
     "the indentation of this line does not match the lines above it (a list item or key is "
     "indented differently)",
     "hint: the '- ' items of one list, and the keys of one mapping, start in the same column"),
    (r"did not find expected key",
     "the indentation of this line does not match the lines above it (a list item or key is "
     "indented differently)",
     "hint: the keys of one mapping start in the same column"),
    (r"did not find expected '-' indicator",
     "this line is indented like a list item but does not start with '- '",
     "hint: the '- ' items of one list start in the same column"),
    (r"could not find expected ':'",
     "this line is neither `key: value` nor a list item: a ':' is missing, or the line "
     "continues the one above at a different indentation",
     "hint: write `key: value`, or start a list item with '- '"),
    (r"mapping values are not allowed here",
     "a ': ' here would start a mapping in the middle of a value",
     "hint: quote a value that contains ': ', or line this key up with the keys above it"),
    (r"sequence entries are not allowed here",
     "a list item ('- ') cannot start on the line of its key",
     "hint: put each item on its own line below the key, indented: `layers:` then `  - relu`"),
    (r"expected ',' or '\]', but got",
     "this '[' is not closed: the list it opens runs into the next line",
     "hint: close it with ']' where the list ends"),
    (r"expected ',' or '}', but got",
     "this '{{' is not closed: the mapping it opens runs into the next line",
     "hint: close it with '}}' where the mapping ends"),
    (r"found unexpected end of stream",
     "this quote is never closed", "hint: end the string with the same quote on this line "
     "(inside '...' write '' for a quote, inside \"...\" write \\\")"),
    (r"found undefined alias '?([^']*)'?",
     "'*{0}' is an alias, but no anchor '&{0}' is defined above it",
     "hint: quote a value that starts with '*'"),
    (r"found duplicate anchor",
     "this anchor is defined twice", "hint: give each anchor (&name) its own name"),
    (r"found unknown escape character '?(.)'?",
     "'\\{0}' is not an escape YAML knows in a \"...\" string",
     "hint: write \\\\ for a backslash, or use single quotes, where '\\' is plain text"),
    (r"expected alphabetic or numeric character, but found",
     "'&' or '*' at the start of a value begins a YAML anchor or alias",
     "hint: quote a value that starts with '&' or '*'"),
    (r"found undefined tag handle|expected ' ', but found",
     "'!' at the start of a value begins a YAML tag", "hint: quote a value that starts with '!'"),
    (r"found (a )?tab character",
     "YAML does not allow tabs for indentation", "hint: indent with spaces"),
    (r"expected a comment or a line break",
     "only an indicator and a comment may follow '|' or '>' on its line",
     "hint: put the text on the lines below it, indented"),
    (r"found unexpected ':'",
     "a ':' inside a one-line [ ] or { } value needs quotes", "hint: quote the value"),
    (r"expected the node content",
     "a value is missing here", "hint: write a value, or remove the stray ',' or bracket"),
    (r"expected <document start>|but found another document",
     "the spec continues after its top-level mapping has ended",
     "hint: a spec is one mapping: are these lines indented less than they should be?"),
    (r"mapping keys are not allowed here",
     "'? ' starts a YAML complex key here", "hint: quote a value that starts with '?'"),
]
# problems whose cause is where the construct began (an opening quote, a bracket, a key)
_AT_CONTEXT = ("found unexpected end of stream", "could not find expected ':'",
               "expected ',' or ']'", "expected ',' or '}'")


def explain_yaml(problem: str, line_text: str, column: int) -> list[str]:
    """The explanation and hint for a PyYAML problem ([] when it is not one of the known);
    `line_text` is the line it is on and `column` where."""
    if problem.startswith("found character '\\t'"):
        if not line_text[:column - 1].strip(" \t"):
            return ["YAML does not allow tabs for indentation; use spaces",
                    "hint: indent with spaces (set your editor to insert spaces for Tab)"]
        return ["YAML does not allow a tab here", "hint: use spaces instead of the tab"]
    for pattern, explanation, hint in _EXPLANATIONS:
        match = re.search(pattern, problem)
        if match:
            group = match.group(1) if match.groups() and match.group(1) else ""
            return [explanation.format(group), hint.format(group)]
    return []


def _yaml_error(error: yaml.MarkedYAMLError, source: Source) -> ArchcError:
    positions = _Positions(source.text)
    problem = str(error.problem or error.context)
    mark = error.problem_mark or error.context_mark
    if error.context_mark is not None and mark is not None:
        line_index = positions.at(mark.index)[0]
        at_end = mark.index >= len(source.text) or not source.line(line_index).strip()
        if at_end or problem.startswith(_AT_CONTEXT):
            mark = error.context_mark  # point at the construct that was never finished
    line, column = positions.at(mark.index) if mark else (1, 1)
    notes = explain_yaml(problem, source.line(line), column)
    if not notes and error.context and error.problem:
        notes = [str(error.context)]
    if "flow" in str(error.context) and ("'['" in problem or "'{'" in problem):
        notes.append(FLOW_HINT)
    return ArchcError(f"YAML syntax error: {problem}",
                      Span(source, line, column, line, column + 1), notes=notes)


def parse_yaml(text: str, path: str = "<string>", default_name: str = "network") -> ast.Spec:
    """YAML spec text → AST. Raises ArchcError with a span for every mistake."""
    if "\r" in text:
        # YAML reads \r\n and a lone \r as line breaks wherever they are (quoted scalars
        # included), so this changes no value, only makes lines count as YAML counts them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    source = Source(path, text)
    with reading(text, source):
        return _parse_yaml(text, source, default_name)


def _parse_yaml(text: str, source: Source, default_name: str) -> ast.Spec:
    reader = _Reader(source)
    try:
        root = yaml.compose(text, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        # the pure-Python reader words its errors better and marks them more precisely (and
        # accepts a few things libyaml refuses: then its reading stands); it also refuses
        # deep nesting and self-containing aliases before they overflow the stack
        try:
            root = yaml.compose(text, Loader=_CheckingLoader)
        except _Refused as refused:
            raise reader.error_at(refused.mark.index, refused.message,
                                  notes=refused.notes) from None
        except yaml.MarkedYAMLError as error:
            raise _yaml_error(error, source) from None
        except yaml.reader.ReaderError as error:
            line, column = reader.positions.at(error.position)
            raise ArchcError(f"the spec holds a character YAML does not allow "
                             f"(code {error.character!r})", Span(source, line, column, line,
                                                                column + 1),
                             notes=["is this a binary file?"]) from None
        except yaml.YAMLError as error:
            raise ArchcError(f"YAML error: {error}", Span(source, 1, 1, 1, 1)) from None
    if root is None:
        raise ArchcError("the spec is empty", Span(source, 1, 1, 1, 1),
                         expected="a mapping with at least 'layers'")
    graph = _Graph(reader, text)
    graph.check(root)
    reader.comments = graph.comments()
    return reader.spec(root, default_name)
