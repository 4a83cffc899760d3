"""Spec imports: a spec file and the spec files it imports → one spec.

Input: the AST of a spec file as parsed (its `imports` not yet read) and the file's path.
Output: an `ast.Spec` that holds what the file writes and what it takes from its imports:

- the parameters and blocks of every imported file, in import order, then its own; its own
  declaration of a name replaces the imported one (`params: {layers: [3, 4, 23, 3]}` sets a
  family's parameter), and two imports may not both declare one name unless the importing
  spec declares it too;
- the input, layers and outputs of the one import that has them, unless the spec writes its
  own;
- its own name and doc only.

Imports are read relative to the importing file, from the project of the spec archc was asked
to read (the nearest folder above it holding `.git`, `pyproject.toml` or `archc.toml`, else
the spec's own folder), and never from outside it: not by an absolute path, not by `..`, not
through a symbolic link. Each file is read once however often it is imported; a cycle, more
than MAX_IMPORT_DEPTH nested imports or more than MAX_IMPORTED_FILES files are refused. Every
error in an imported file is located in that file, with the chain of imports that led to it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from archc.errors import ArchcError, Frame, Source
from archc.files import read_spec
from archc.frontend import ast

MAX_IMPORT_DEPTH = 16
MAX_IMPORTED_FILES = 64
SUFFIXES = (".yaml", ".yml", ".arch")
PROJECT_MARKERS = (".git", "pyproject.toml", "archc.toml")
_DRIVE = re.compile(r"^[A-Za-z]:")

ParseFile = Callable[[Path, str], ast.Spec]
T = TypeVar("T")


def project_root(spec_path: Path) -> Path:
    """The folder a spec's imports must stay in: the nearest folder at or above the spec's
    own that marks a project, else the spec's folder."""
    folder = spec_path.resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            return candidate
    return folder


def resolve(spec: ast.Spec, path: Path, parse_file: ParseFile, limit: int,
            root: Path | None = None) -> ast.Spec:
    """The spec read from `path` with its imports resolved (each file of at most `limit`
    bytes, parsed by `parse_file`). A spec that imports nothing is returned as it is."""
    if not spec.imports:
        return spec
    real = path.resolve()
    return _Resolver(parse_file, limit, root or project_root(path)).resolve(spec, real, ())


class _Resolver:
    def __init__(self, parse_file: ParseFile, limit: int, root: Path) -> None:
        self.parse_file = parse_file
        self.limit = limit
        self.root = root.resolve()
        self.loaded: dict[Path, ast.Spec] = {}  # each file once, however often imported

    def resolve(self, spec: ast.Spec, path: Path, chain: tuple[Path, ...]) -> ast.Spec:
        if not spec.imports:
            return spec
        bases: list[tuple[ast.Import, ast.Spec]] = []
        for item in spec.imports:
            target = self.locate(item, path)
            if target == path or target in chain:
                names = [self.shown(p) for p in (*chain, path, target)]
                cycle = names[names.index(self.shown(target)):]
                raise ArchcError("the imports form a cycle", item.span,
                                 found=" → ".join(cycle),
                                 notes=["a spec cannot import itself, directly or through "
                                        "another file"])
            if len(chain) + 1 >= MAX_IMPORT_DEPTH:
                raise ArchcError("imports nest too deeply", item.span,
                                 expected=f"at most {MAX_IMPORT_DEPTH} files, each importing "
                                          "the next")
            if target not in self.loaded:
                if len(self.loaded) >= MAX_IMPORTED_FILES:
                    raise ArchcError("the spec imports too many files", item.span,
                                     expected=f"at most {MAX_IMPORTED_FILES} files in all")
                shown = _as_shown(target)
                try:
                    text = read_spec(shown, self.limit)
                    parsed = self.parse_file(shown, text)
                    self.loaded[target] = self.resolve(parsed, target, (*chain, path))
                except ArchcError as error:
                    raise error.with_span(item.span).with_frame(
                        Frame(f"the import of {item.path}", item.span)) from None
            bases.append((item, self.loaded[target]))
        return merged(spec, bases)

    def locate(self, item: ast.Import, importer: Path) -> Path:
        """The file an import names, checked to be a spec file inside the project."""
        text = item.path
        if not text.strip() or "\\" in text or "\0" in text or text.startswith(("/", "~")) \
                or _DRIVE.match(text):
            raise ArchcError("an import is a path relative to the importing spec, with / "
                             "between folders", item.span, expected="import: families/resnet.yaml",
                             found=repr(text))
        if not text.endswith(SUFFIXES):
            raise ArchcError("an import names a spec file", item.span,
                             expected="a file ending in " + ", ".join(SUFFIXES),
                             found=repr(text))
        target = (importer.parent / text).resolve()
        if not target.is_relative_to(self.root):
            markers = ", ".join(PROJECT_MARKERS)
            raise ArchcError("an import may not leave the project", item.span,
                             found=f"{text} is outside {self.root}",
                             notes=[f"the project is the nearest folder above the spec holding "
                                    f"one of {markers} (else the spec's own folder); imports, "
                                    "symbolic links included, stay inside it"])
        return target

    def shown(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)


def _as_shown(path: Path) -> Path:
    """A file as errors name it: relative to the working folder when it is inside it, as the
    user's own paths are."""
    relative = os.path.relpath(path)
    return Path(relative) if not relative.startswith("..") else path


def merged(spec: ast.Spec, bases: Sequence[tuple[ast.Import, ast.Spec]]) -> ast.Spec:
    """The spec with what it takes from its resolved imports (see the module's docstring)."""
    params = _declarations(spec, bases, "parameter", lambda s: s.params, lambda p: p.name)
    blocks = _declarations(spec, bases, "block", lambda s: s.blocks, lambda b: b.name)
    inputs = spec.inputs
    if not inputs:
        having = _one(bases, "an input", lambda s: bool(s.inputs), lambda s: s.inputs)
        inputs = having.inputs if having is not None else ()
    body, outputs, keys = spec.body, spec.outputs, spec.output_keys
    training, training_keys = spec.training_outputs, spec.training_output_keys
    if not body.entries:
        having = _one(bases, "layers", lambda s: bool(s.body.entries), lambda s: s.body)
        if having is None:
            raise ArchcError("neither this spec nor the specs it imports have layers",
                             spec.span, expected="layers here, or an import of a spec with them")
        body = having.body
        outputs, keys = (spec.outputs, spec.output_keys) if spec.outputs else (
            having.outputs, having.output_keys)
        if not spec.outputs and not training:  # the network's outputs come with its layers
            training, training_keys = having.training_outputs, having.training_output_keys
    read: list[Source] = []
    for _, base in bases:
        for source in (*base.read, base.span.source):
            if source is not None and all(source.path != s.path for s in read):
                read.append(source)
    return replace(spec, params=tuple(params), inputs=inputs, blocks=tuple(blocks), body=body,
                   outputs=outputs, output_keys=keys, training_outputs=training,
                   training_output_keys=training_keys, read=tuple(read))


def _declarations(spec: ast.Spec, bases: Sequence[tuple[ast.Import, ast.Spec]], what: str,
                  of: Callable[[ast.Spec], Iterable[T]], name: Callable[[T], str]) -> list[T]:
    """Imported declarations in import order, then the spec's own, which replace imported
    ones of the same name; two imports declaring one name differently must be settled by the
    spec declaring it itself."""
    own = {name(d): d for d in of(spec)}
    found: dict[str, T] = {}
    came_from: dict[str, str] = {}
    for item, base in bases:
        for declaration in of(base):
            key = name(declaration)
            if key in found and found[key] is not declaration and key not in own:
                raise ArchcError(f"{what} '{key}' comes from two imports", item.span,
                                 found=f"{came_from[key]} and {item.path}",
                                 notes=[f"declare the {what} in this spec to say which one "
                                        "it uses"])
            found.setdefault(key, declaration)
            came_from.setdefault(key, item.path)
    for key, declaration in own.items():
        found[key] = declaration  # in the place of the imported one, if any
    return list(found.values())


def _one(bases: Sequence[tuple[ast.Import, ast.Spec]], what: str,
         has: Callable[[ast.Spec], bool], part: Callable[[ast.Spec], object]) -> ast.Spec | None:
    """The one import that has `what` (the input, the layers), or None if none has it; two
    that have different ones are refused (the same file imported twice is one)."""
    having = [(item, base) for item, base in bases if has(base)]
    if not having:
        return None
    first = having[0]
    for item, base in having[1:]:
        if part(base) is not part(first[1]):
            raise ArchcError(f"two imports have {what}", item.span,
                             found=f"{first[0].path} and {item.path}",
                             notes=[f"write this spec's {what.removeprefix('an ')} to say which "
                                    "it uses"])
    return first[1]
