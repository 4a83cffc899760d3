"""The text spelling (*.arch): lark parse tree → the same AST the YAML spelling gives.

Input: the text of a `.arch` spec and its path. Output: an `ast.Spec` (with the file's comments
kept beside it for `archc fmt` and `archc convert`). The grammar is `grammar.lark`'s `network`
rule; layer calls and expressions share the rules YAML layer strings use, so the two spellings
cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from lark import Token, v_args
from lark.exceptions import UnexpectedInput

from archc.errors import ArchcError, Source, Span
from archc.frontend import ast
from archc.frontend.expressions import (
    TooDeep,
    _Lower,
    _syntax_error,
    parse_name_template,
    parser,
    reading,
    too_deep,
    transform,
    unquote,
)


class _LowerText(_Lower):
    """Rules of the text form; calls, references and expressions come from `_Lower`."""

    def network(self, children: list[Any]) -> ast.Spec:
        name, *rest = children
        params: tuple[ast.Param, ...] = ()
        if rest and isinstance(rest[0], tuple):
            params, rest = rest[0], rest[1:]
        doc: str | None = None
        inputs: list[ast.InputDecl] = []
        blocks: list[ast.BlockDef] = []
        outputs: tuple[ast.Ref, ...] = ()
        output_keys: tuple[str, ...] = ()
        training: tuple[ast.Ref, ...] = ()
        training_keys: tuple[str, ...] = ()
        body: list[ast.Entry] = []
        imports: list[ast.Import] = []
        for item in rest:
            if isinstance(item, _Doc):
                doc = item.text
            elif isinstance(item, ast.Import):
                imports.append(item)
            elif isinstance(item, ast.InputDecl):
                inputs.append(item)
            elif isinstance(item, ast.BlockDef):
                blocks.append(item)
            elif isinstance(item, _Outputs) and item.training:
                training, training_keys = item.refs, item.keys
            elif isinstance(item, _Outputs):
                outputs, output_keys = item.refs, item.keys
            else:
                body.append(item)
        span = self._span(name)
        if not body and not imports:
            raise ArchcError(f"network {name} has no layers", span)
        if body:
            first, last = body[0].span, body[-1].span
            sequence = ast.Sequence(tuple(body), Span(self.source, first.line, first.column,
                                                      last.end_line, last.end_column))
        else:  # the network of the spec it imports
            sequence = ast.Sequence((), span)
        comments = ast.scan_comments(self.source.text, yaml=False) if self.source else ()
        return ast.Spec(str(name), doc, params, tuple(inputs), tuple(blocks), sequence, outputs,
                        span, comments, tuple(imports), output_keys=output_keys,
                        training_outputs=training, training_output_keys=training_keys)

    def spec_import(self, children: list[Token]) -> ast.Import:
        token = children[0]
        return ast.Import(unquote(str(token)), self._span(token))

    def parameters(self, children: list[ast.Param]) -> tuple[ast.Param, ...]:
        return ast.unique_params(tuple(children))

    def parameter(self, children: list[Any]) -> ast.Param:
        name = children[0]
        default = children[1] if len(children) > 1 else None
        return ast.Param(str(name), default, self._span(name))

    def doc(self, children: list[Token]) -> _Doc:
        return _Doc(str(self.string([children[0]]).value))

    def string(self, children: list[Token]) -> ast.Literal:
        token = children[0]
        return ast.Literal(unquote(str(token)), self._span(token))

    @v_args(tree=True)
    def input(self, tree: Any) -> ast.InputDecl:
        children = tree.children
        name = "x"
        if children and isinstance(children[0], Token):
            name, children = str(children[0]), children[1:]
        return ast.InputDecl(name, tuple(children), self._span(tree))

    def block(self, children: list[Any]) -> ast.BlockDef:
        inline = False
        if isinstance(children[0], Token) and children[0].type == "INLINE":
            inline, children = True, children[1:]
        name, *rest = children
        params: tuple[ast.Param, ...] = ()
        if rest and isinstance(rest[0], tuple):
            params, rest = rest[0], rest[1:]
        doc = None
        statements: list[ast.Entry] = []
        imports: list[ast.Import] = []
        for item in rest:
            if isinstance(item, _Doc):
                doc = item.text
            elif isinstance(item, ast.Import):
                imports.append(item)
            else:
                statements.append(item)
        span = self._span(name)
        if not statements:
            raise ArchcError(f"block {name} has no body", span)
        return ast.BlockDef(str(name), params, self._body(statements), inline, doc, span)

    def _body(self, statements: list[ast.Entry], span: Span | None = None) -> ast.Entry:
        """Braced statements: one statement is itself, several are a sequence."""
        if len(statements) == 1:
            return statements[0]
        if not statements:
            assert span is not None
            return ast.Sequence((), span)
        first, last = statements[0].span, statements[-1].span
        return ast.Sequence(tuple(statements), Span(self.source, first.line, first.column,
                                                    last.end_line, last.end_column))

    def outputs(self, children: list[ast.Ref | tuple[str, ast.Ref, Any]]) -> _Outputs:
        """`outputs logits, aux`, or a dict `outputs out: classifier, aux: aux_classifier`
        (every output keyed, each key once)."""
        keyed = [c for c in children if isinstance(c, tuple)]
        if keyed and len(keyed) != len(children):
            plain = next(c for c in children if not isinstance(c, tuple))
            raise ArchcError("outputs are all keyed (a dict) or none is", plain.span,
                             expected=f"a key for {'.'.join(plain.path)}: "
                             f"outputs name: {'.'.join(plain.path)}, ...")
        keys = [k for k, _, _ in keyed]
        for index, (key, _, token) in enumerate(keyed):
            if key in keys[:index]:
                raise ArchcError(f"the output key '{key}' is given twice", self._span(token),
                                 expected="each key once")
        if keyed:
            return _Outputs(tuple(r for _, r, _ in keyed), tuple(keys))
        return _Outputs(tuple(c for c in children if isinstance(c, ast.Ref)))

    def training_outputs(self, children: list[ast.Ref | tuple[str, ast.Ref, Any]]) -> _Outputs:
        """`training outputs logits, aux_logits`: what forward returns while training."""
        found = self.outputs(children)
        found.training = True
        return found

    def keyed_output(self, children: list[Any]) -> tuple[str, ast.Ref, Any]:
        key, ref = children
        return str(key), ref, key

    @v_args(tree=True)
    def output_name(self, tree: Any) -> ast.Ref:
        return ast.Ref(tuple(str(t) for t in tree.children), self._span(tree))

    @v_args(tree=True)
    def named(self, tree: Any) -> ast.Named:
        name, entry = tree.children
        return ast.Named(str(name), entry, self._span(name))

    @v_args(tree=True)
    def named_template(self, tree: Any) -> ast.Named:
        token, entry = tree.children
        span = self._span(token)
        text = str(token)[1:-1]
        parts = parse_name_template(text, self.source, span.line, span.column + 1, span)
        if all(isinstance(p, str) for p in parts):  # a quoted plain name ("block"): no template
            parts = ()
        return ast.Named(text, entry, span, parts)

    @v_args(tree=True)
    def sequence(self, tree: Any) -> ast.Sequence:
        return ast.Sequence(tuple(tree.children), self._span(tree))

    @v_args(tree=True)
    def merge(self, tree: Any) -> ast.Merge:
        call, *branches = tree.children
        if any(a.name is None for a in call.args):
            raise ArchcError(f"{call.name} takes keyword options only, e.g. concat(dim=2)",
                             call.span)
        return ast.Merge(call.name, tuple(branches), call.args, self._span(tree))

    @v_args(tree=True)
    def repeat(self, tree: Any) -> ast.Repeat:
        children = tree.children
        count, rest = children[0], children[1:]
        var = None
        if len(rest) == 2:
            var = str(rest[0])
        return ast.Repeat(count, var, rest[-1], self._span(tree))

    @v_args(tree=True)
    def condition(self, tree: Any) -> ast.If:
        test, *rest = tree.children
        orelse = None
        if rest and isinstance(rest[-1], _Else):
            orelse, rest = rest[-1].entry, rest[:-1]
        return ast.If(test, self._body(list(rest), self._span(tree)), orelse, self._span(tree))

    def else_branch(self, children: list[ast.Entry]) -> _Else:
        return _Else(children[0])


class _Doc:
    def __init__(self, text: str) -> None:
        self.text = text


class _Else:
    def __init__(self, entry: ast.Entry) -> None:
        self.entry = entry


class _Outputs:
    def __init__(self, refs: tuple[ast.Ref, ...], keys: tuple[str, ...] = ()) -> None:
        self.refs = refs
        self.keys = keys
        self.training = False


def parse_text(text: str, path: str = "<string>") -> ast.Spec:
    """Text-form spec → AST. Raises ArchcError with a span for every mistake."""
    if text.startswith("\ufeff"):  # a byte-order mark, as editors on Windows write it (YAML
        text = " " + text[1:]  # skips it too); a space keeps every column where it was
    source = Source(path, text)
    with reading(text, source):
        return _parse_text(text, source)


def _parse_text(text: str, source: Source) -> ast.Spec:
    try:
        tree = parser().parse(text, start="network")
    except UnexpectedInput as error:
        raise _syntax_error(error, text, source, 1, 1, "spec") from None
    except TooDeep as error:
        raise too_deep(error, source, 1, 1) from None
    spec = transform(_LowerText(source, 1, 1), tree)
    assert isinstance(spec, ast.Spec)
    return spec
