"""The YAML spelling: YAML text to the AST.

Input: the text of a `*.yaml` spec and its path. Output: an `ast.Spec`. YAML is read with the
safe composer (no tags that build objects, no code), node by node so that every AST node keeps
the line and column it came from; layer strings and expressions inside it are parsed by the
lark grammar in `expressions.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import yaml

from archc.errors import ArchcError, Source, Span, suggest
from archc.frontend import ast
from archc.frontend.expressions import parse_expression, parse_layer, parse_name_template

MERGES = ("concat", "add", "mul")
TOP_LEVEL_KEYS = (
    "archc", "name", "doc", "params", "input", "inputs", "blocks", "layers", "outputs",
)
BLOCK_KEYS = ("params", "body", "inline", "doc")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FLOW_HINT = ("hint: in a one-line [ ] list YAML splits at every comma and bracket; write a "
             "one-line sequence as `conv(64, 3); bn; relu`, or use a block list (- item)")
# libyaml's safe loader where PyYAML was built with it (several times faster on large specs);
# both keep node marks and construct no Python objects
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CORE_TAGS = frozenset(f"tag:yaml.org,2002:{kind}"
                      for kind in ("str", "int", "float", "bool", "null", "seq", "map"))
MAX_NODES = 200_000  # YAML aliases can make a small file a huge tree; refuse before it is walked


class _Reader:
    def __init__(self, source: Source) -> None:
        self.source = source
        self.visited = 0

    # -- positions
    def span(self, node: yaml.Node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.source, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def text_start(self, node: yaml.ScalarNode) -> tuple[int, int]:
        """Where the scalar's content starts (after an opening quote)."""
        mark = node.start_mark
        quoted = node.style in ("'", '"')
        return mark.line + 1, mark.column + 1 + (1 if quoted else 0)

    def located_text(self, node: yaml.ScalarNode) -> tuple[str, int, int]:
        """A scalar's text and where it starts. A scalar continued over several lines is read
        from the file as written (YAML folds its line breaks), so positions stay exact."""
        line, column = self.text_start(node)
        start, end = node.start_mark, node.end_mark
        if start.line == end.line or node.style not in (None, "", "'", '"'):
            return node.value, line, column
        quoted = node.style in ("'", '"')
        raw = self.source.text[start.index + (1 if quoted else 0):end.index - (1 if quoted else 0)]
        if quoted and "\\" in raw:  # escapes: fall back to the value
            return node.value, line, column
        return raw, line, column

    def error(self, message: str, node: yaml.Node, **kwargs: object) -> ArchcError:
        return ArchcError(message, self.span(node), **kwargs)  # type: ignore[arg-type]

    def count(self, node: yaml.Node) -> None:
        self.visited += 1
        if node.tag not in CORE_TAGS:
            raise self.error(f"YAML tag {node.tag!r} is not allowed", node,
                             notes=["a spec is data: it never constructs objects or runs code"],
                             expected="plain values, lists and mappings")
        if self.visited > MAX_NODES:
            raise self.error(
                f"spec too large: more than {MAX_NODES} YAML nodes (are aliases expanding it?)",
                node,
            )

    # -- scalars and expressions
    def is_string(self, node: yaml.Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str"

    def string(self, node: yaml.Node, what: str) -> str:
        if not self.is_string(node):
            raise self.error(f"{what} must be a string", node, found=_describe(node))
        assert isinstance(node, yaml.ScalarNode)
        return str(node.value)

    def identifier(self, node: yaml.Node, what: str) -> str:
        text = self.string(node, what) if self.is_string(node) else str(getattr(node, "value", ""))
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
            text, line, column = self.located_text(node)
            return parse_expression(text, self.source, line, column)
        value = yaml.safe_load(node.value) if node.value else None
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
                raise self.error("expected a layer, e.g. conv(64, 3) or @name", node,
                                 found=_describe(node))
            text, line, column = self.located_text(node)
            return parse_layer(text, self.source, line, column)
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
        if self.is_string(key) and "{" in key.value:
            return ast.Named(key.value, self.entry(value), self.span(key),
                             self.name_template(key))
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
            inline = bool(yaml.safe_load(inline_node.value))
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
        if "layers" not in keys:
            raise self.error("a spec needs 'layers': the body of the network", root)
        name = self.identifier(keys["name"][1], "name") if "name" in keys else default_name
        doc = self.string(keys["doc"][1], "doc") if "doc" in keys else None
        params = self.params(keys["params"][1]) if "params" in keys else ()
        blocks_node = keys["blocks"][1] if "blocks" in keys else None
        blocks: list[ast.BlockDef] = []
        if blocks_node is not None:
            if not isinstance(blocks_node, yaml.MappingNode):
                raise self.error("blocks must map block names to definitions", blocks_node)
            blocks = [self.block(k, v) for k, v in blocks_node.value]
        body_node = keys["layers"][1]
        body = self.entry(body_node)
        if not isinstance(body, ast.Sequence):
            body = ast.Sequence((body,), body.span)
        outputs: tuple[ast.Ref, ...] = ()
        if "outputs" in keys:
            outputs_node = keys["outputs"][1]
            items = outputs_node.value if isinstance(outputs_node, yaml.SequenceNode) else [
                outputs_node]
            outputs = tuple(self.output(item) for item in items)
        return ast.Spec(name, doc, params, self.inputs(keys), tuple(blocks), body, outputs,
                        self.span(root), ast.scan_comments(self.source.text, yaml=True))

    def output(self, node: yaml.Node) -> ast.Ref:
        text = self.string(node, "an output")
        line, column = self.text_start(node)  # type: ignore[arg-type]
        layer = parse_layer(text if text.startswith("@") else "@" + text, self.source, line,
                            column - (0 if text.startswith("@") else 1))
        if not isinstance(layer, ast.Ref):
            raise self.error("an output names an entry", node, expected="a name such as logits")
        return layer


_Keys = dict[str, tuple[yaml.Node, yaml.Node]]


def _describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    return f"{kind} {node.value!r}" if node.value else "nothing"


def _yaml_error(error: yaml.MarkedYAMLError, source: Source) -> ArchcError:
    mark = error.problem_mark or error.context_mark
    lines = source.text.split("\n")
    if (error.context_mark is not None and mark is not None
            and (mark.line >= len(lines) or not lines[mark.line].strip())):
        mark = error.context_mark  # the problem is at the end of the text: point at its cause
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = str(error.problem or error.context)
    notes = [str(error.context)] if error.context and error.problem else []
    if "'@'" in problem:
        notes.append("hint: quote a reference, YAML reserves @: - '@name'")
    if "flow" in str(error.context) and ("'['" in problem or "'{'" in problem):
        notes.append(FLOW_HINT)
    return ArchcError(f"YAML syntax error: {problem}",
                      Span(source, line, column, line, column + 1), notes=notes)


def parse_yaml(text: str, path: str = "<string>", default_name: str = "network") -> ast.Spec:
    """YAML spec text → AST. Raises ArchcError with a span for every mistake."""
    source = Source(path, text)
    try:
        root = yaml.compose(text, Loader=SAFE_LOADER)
    except yaml.YAMLError:
        # the pure-Python reader words its errors better and marks them more precisely (and
        # accepts a few things libyaml refuses: then its reading stands)
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as error:
            raise _yaml_error(error, source) from None
        except yaml.reader.ReaderError as error:
            line = text.count("\n", 0, error.position) + 1
            column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
            raise ArchcError(f"the spec holds a character YAML does not allow "
                             f"(code {error.character!r})", Span(source, line, column, line,
                                                                column + 1),
                             notes=["is this a binary file?"]) from None
        except yaml.YAMLError as error:
            raise ArchcError(f"YAML error: {error}", Span(source, 1, 1, 1, 1)) from None
    if root is None:
        raise ArchcError("the spec is empty", Span(source, 1, 1, 1, 1),
                         expected="a mapping with at least 'layers'")
    reader = _Reader(source)
    if _expanded_size(root, {}) > MAX_NODES:
        raise reader.error(f"spec too large: more than {MAX_NODES} YAML nodes once its aliases "
                           "are expanded", root, notes=["is it an alias bomb?"])
    return reader.spec(root, default_name)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes the tree has with every alias expanded, counted without expanding them
    (an alias is the same node object, so each distinct node is sized once)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, sizes) for item in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(size, MAX_NODES + 1)
    return sizes[id(node)]
