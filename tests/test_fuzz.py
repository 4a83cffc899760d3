"""Fuzzing the whole path a user takes: every spec in the repository, in both spellings,
mutated (lines and tokens deleted, duplicated and swapped, numbers set to 0, -1, huge, inf, nan
or a bool, names replaced by Python keywords, nn.Module attributes, dunders and look-alike
unicode, docs with quotes and backslashes inserted, resource-heavy expressions, unicode and
binary junk, files cut short), and random specs generated from the grammar's constructs and the
registry's ops (with their keyword arguments), printed in either spelling and sometimes mutated
too.

Each input is first elaborated in a guarded child process (no torch; a time and a memory bound,
killed and restarted when an input hangs it), so that a hostile input cannot hang or exhaust the
test run. The only allowed outcomes there are a network or an ArchcError located inside the file;
never another exception, never a hang, never code from the spec running. Accepted inputs then go
on (on a sample): the generated source must parse with `ast`, hold only imports, classes,
functions and the docstring at module level, carry every doc as a string literal (its words in
order: a long doc is wrapped at 100 columns, nothing else changes), and
`archc.build` must give a module whose forward output shapes equal the static shapes.

`make test` runs a sample; `make fuzz` runs 100,000 inputs (see the Makefile). The guarded
child and the whole-path check are shared with tests/test_soundness.py and
tests/test_adversarial.py.
"""

from __future__ import annotations

import ast as pyast
import json
import os
import random
import re
import resource
import selectors
import subprocess
import sys
import time
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python -m tests.test_fuzz --worker` from anywhere
    sys.path.insert(0, str(ROOT))

import archc  # noqa: E402
from archc.api import parse  # noqa: E402
from archc.dims import BATCH, numel  # noqa: E402
from archc.errors import UNKNOWN_SPAN as S  # noqa: E402
from archc.frontend import ast  # noqa: E402
from archc.frontend.printer import print_text, print_yaml  # noqa: E402
from archc.ops import OPS  # noqa: E402

INPUTS = int(os.environ.get("ARCHC_FUZZ_INPUTS", "400"))
# seconds per input: a bound against hangs, not a speed goal (make fuzz uses the 2 s;
# the sample in make test allows for a loaded CI machine)
BUDGET = float(os.environ.get("ARCHC_FUZZ_BUDGET", "5"))
# address space of the guarded child (no torch in it): the issue asks for 500 MB of work at most
MEMORY = int(os.environ.get("ARCHC_FUZZ_MEMORY_MB", "1024")) * 1024 * 1024
# one accepted input in this many goes through source + ast + build + forward
WHOLE_PATH_EVERY = int(os.environ.get("ARCHC_FUZZ_WHOLE_PATH_EVERY", "4"))
WHOLE_PATH_PARAMS = 3_000_000  # bigger mutated zoo networks are built by tests/test_specs.py
# activation elements per sample above which an accepted input is not run here (the memory of
# the test machine; the corpus holds the cases archc itself must refuse)
WHOLE_PATH_ELEMENTS = 20_000_000
PWNED = "ARCHC_PWNED"  # what the hostile payloads set when spec text runs as code
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(\.\d+)?|\S")
NUMBER = re.compile(r"\b\d+\b")
NAME = re.compile(r"^(\s*-?\s*)([A-Za-z_][A-Za-z0-9_]*)(\s*:)", re.M)
PAYLOAD = "__import__('os').environ.__setitem__('ARCHC_PWNED', '1')"

# ---------------------------------------------------------------- hostile material

JUNK = ["\x00", "\xff", "\u200b", "\u00e9", "\U0001f600", "\t", "\r", "\\", "'", '"', "{", "}",
        "[", "]", "(", ")", ":", ";", "@", "#", "&a", "*a", "!!python/object:os.system", "- ",
        "\n  - ", "<<: ", "\x1b[31m", "\ufeff", "\r\n", '"""', "'''", "\\x41", "\\N{BULLET}",
        "!!python/name:os.system ", "!!binary ", "%", "{}", "\u202e", "\ufb01", "\u0435"]
# names that must be refused (keywords, dunders, private, nn.Module attributes) or kept
# faithfully (unicode, long)
HOSTILE_NAMES = ["training", "forward", "parameters", "state_dict", "cuda", "to", "__init__",
                 "__class__", "class", "def", "lambda", "None", "True", "import", "__fc", "_x",
                 "self", "super", "torch", "nn", "x", "module", "\ufb01", "fi", "c\u043env",
                 "\uff43", "n" * 300, "add_module", "register_buffer", "eval", "half", "type",
                 "float", "apply", "children", "in_channels", "initialized", "F", "Sequential"]
HOSTILE_DOCS = ['"""', "'''", 'ends in a quote"', "ends in a backslash\\", "\x00", "\\x41",
                "\\N{BULLET}", "{}", "{0} %s %d", "\\", '\\"', "\n", "a\nb\n\"\"\"\n",
                f'"""; {PAYLOAD}; """', f"'''; {PAYLOAD}; '''", "\r", "\u2028", "\t\"\"\"\t",
                "\\u0041", "\\", "'", '"', "#", "\ufeff", "x" * 2000]
HOSTILE_VALUES = ["1e999", "-1e999", "(1e999 - 1e999)", "-0.0", "1e308", "10 ** 30", "true",
                  "false", "none", "9" * 4300, "2 ** 64", "-(2 ** 63)", "0.0", "1e-320",
                  "'%0999999999d' % 1", "'%' % 1", "len([0] * 10 ** 9)",
                  "len(sum([[0] * 10000] * 10000, []))", "2 ** 2 ** 2 ** 2 ** 2 ** 2",
                  "9 ** 9 ** 9", "len('a' * 10 ** 9)", "int(10.0 ** 400)", "'x' * 3",
                  "[1] * 3", "in.__class__", "__import__('os')", "(lambda: 1)()"]
RESOURCE_SNIPPETS = [
    "  - repeat: 10000\n    body:\n      repeat: 10000\n      body: identity\n",
    "  - adaptive_avgpool([3000, 10000])\n",
    "  - upsample(scale_factor=100000)\n",
    "  - repeat: 100000000\n    body: identity\n",
    "  - linear(10 ** 12)\n",
]


@cache
def corpus() -> list[tuple[str, str]]:
    """(file name, text) of every spec, each in both spellings."""
    from tests.conftest import ALL_SPECS

    texts = []
    for path in ALL_SPECS:
        spec = archc.load(path)
        texts.append((path.stem + ".yaml", print_yaml(spec)))
        texts.append((path.stem + ".arch", print_text(spec)))
    return texts


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    kind = rng.randrange(15)
    if kind == 0 and lines:  # delete a line
        del lines[rng.randrange(len(lines))]
    elif kind == 1 and lines:  # duplicate a line
        index = rng.randrange(len(lines))
        lines.insert(index, lines[index])
    elif kind == 2 and len(lines) > 1:  # swap two lines
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind in (3, 4, 5):  # delete, duplicate or swap tokens
        tokens = list(TOKEN.finditer(text))
        if not tokens:
            return text
        a, b = rng.choice(tokens), rng.choice(tokens)
        if kind == 3:
            return text[:a.start()] + text[a.end():]
        if kind == 4:
            return text[:a.end()] + " " + a.group() + text[a.end():]
        first, second = sorted((a, b), key=lambda m: m.start())
        if first.end() > second.start():
            return text
        return (text[:first.start()] + second.group() + text[first.end():second.start()]
                + first.group() + text[second.end():])
    elif kind == 6:  # a number set to 0, -1, huge, inf, nan, a bool or an expensive expression
        numbers = list(NUMBER.finditer(text))
        if numbers:
            m = rng.choice(numbers)
            value = rng.choice(["0", "-1", "999999999999", "1e308", "2 ** 62", *HOSTILE_VALUES])
            return text[:m.start()] + value + text[m.end():]
    elif kind == 7:  # junk inserted
        position = rng.randrange(len(text) + 1)
        return text[:position] + rng.choice(JUNK) + text[position:]
    elif kind == 8:  # cut short
        return text[:rng.randrange(len(text) + 1)]
    elif kind == 9:  # an entry name replaced by a hostile one
        names = list(NAME.finditer(text))
        if names:
            m = rng.choice(names)
            return (text[:m.start(2)] + quote_name(rng.choice(HOSTILE_NAMES), text)
                    + text[m.end(2):])
    elif kind == 10:  # a doc with quotes and backslashes
        doc = rng.choice(HOSTILE_DOCS)
        if text.lstrip().startswith("network"):
            brace = text.find("{")
            if brace >= 0:
                return text[:brace + 1] + f"\n  doc {arch_string(doc)}" + text[brace + 1:]
        else:
            return f"doc: {yaml_string(doc)}\n" + "".join(
                line for line in lines if not line.startswith("doc:"))
    elif kind == 11 and not text.lstrip().startswith("network"):  # resource-heavy entries
        at = text.find("layers:\n")
        if at >= 0:
            at += len("layers:\n")
            return text[:at] + rng.choice(RESOURCE_SNIPPETS) + text[at:]
    elif kind == 12:  # line endings and byte-order mark
        return rng.choice(["\ufeff" + text, text.replace("\n", "\r\n"), text.replace("\n", "\r")])
    elif kind == 13:  # a name token anywhere replaced by a hostile name
        tokens = [t for t in TOKEN.finditer(text) if t.group()[:1].isalpha()]
        if tokens:
            m = rng.choice(tokens)
            return text[:m.start()] + rng.choice(HOSTILE_NAMES) + text[m.end():]
    else:  # random bytes
        position = rng.randrange(len(text) + 1)
        junk = "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 8)))
        return text[:position] + junk + text[position:]
    return "".join(lines)


def quote_name(name: str, text: str) -> str:
    if text.lstrip().startswith("network") or name.isidentifier():
        return name
    return yaml_string(name)


def yaml_string(text: str) -> str:
    """A YAML double-quoted scalar holding exactly `text`."""
    return json.dumps(text)


def arch_string(text: str) -> str:
    """A text-form string holding exactly `text` (the grammar knows \\n \\t \\\\ \\' \\")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace(
        "\t", "\\t") + '"'


# ---------------------------------------------------------------- random specs


def generate(rng: random.Random, hostile: float = 0.1) -> ast.Spec:
    """A random spec from the grammar's constructs and the registry's ops (grammar-aware
    generation: mostly well-formed, often ill-typed or ill-shaped). Every op's keyword
    arguments are drawn from its attributes' types; with probability `hostile` a value, a name
    or a doc is taken from the hostile material instead (reserved and unicode names, inf, nan,
    huge numbers, bools, expensive expressions, docs with quotes and backslashes)."""
    ops = sorted(OPS)
    layer_ops = [name for name in ops if OPS[name].arity == 1]  # merges take branches
    blocks: list[ast.BlockDef] = []

    def hostile_expr() -> ast.Expr:
        text = rng.choice(HOSTILE_VALUES)
        try:
            from archc.frontend.expressions import parse_expression

            return parse_expression(text)
        except Exception:
            return ast.Literal(text, S)

    def number() -> ast.Expr:
        if rng.random() < hostile:
            return hostile_expr()
        return ast.Literal(rng.choice([0, 1, 2, 3, 4, 8, 16, -1, 1.5, True, "same"]), S)

    def value(attr: Any) -> ast.Expr:
        if rng.random() < hostile:
            return hostile_expr()
        if attr.choices:
            return ast.Literal(rng.choice(attr.choices), S)
        kind = attr.type.name
        small = rng.choice([1, 1, 2, 3, 4, 8])
        if kind == "true or false" or kind.startswith("true, false"):
            return ast.Literal(rng.random() < 0.5, S)
        if kind in ("a number", "a number or none"):
            return ast.Literal(rng.choice([0.0, 0.1, 0.5, 1e-5, 2.0, 1]), S)
        if "list of integers" in kind and rng.random() < 0.3:
            return ast.ListExpr(tuple(ast.Literal(small, S) for _ in range(rng.randrange(1, 3))),
                                S)
        if kind.startswith("an integer") or "integer" in kind:
            return ast.Literal(rng.choice([0, 1, 1, 2, 3, 4, -1]) if attr.name in (
                "dim", "start_dim", "end_dim") else small, S)
        if kind == "a scheme name or [name, number]":
            return ast.Literal(rng.choice(["default", "kaiming_normal", "zeros", "ones"]), S)
        if "list of numbers" in kind:
            return ast.Literal(rng.choice([1.0, 2.0, 0.5]), S)
        if kind == "a string":
            return ast.Literal(rng.choice(["zeros", "reflect", "nearest", "same"]), S)
        return number()

    def call() -> ast.Entry:
        if blocks and rng.random() < 0.2:
            block = rng.choice(blocks)
            args = tuple(ast.Argument(None, ast.Literal(rng.choice([2, 4, 8]), S), S)
                         for p in block.params if p.default is None)
            return ast.Call(block.name, args, S)
        name = rng.choice(ops if rng.random() < 0.1 else layer_ops)
        op = OPS[name]
        if rng.random() < 0.15:  # the old shape-blind positional arguments
            args = tuple(ast.Argument(None, number(), S) for _ in range(rng.randrange(3)))
            return ast.Call(name, args, S)
        positional = [ast.Argument(None, value(a), S) for a in op.attrs
                      if a.required and not a.inferred]
        optional = [a for a in op.attrs if not a.required and not a.inferred
                    and a.name != "weight"]
        chosen = rng.sample(optional, k=min(len(optional), rng.randrange(3)))
        if name == "upsample" and not any(a.name in ("size", "scale_factor") for a in chosen):
            chosen.append(op.attr("scale_factor"))
        keywords = [ast.Argument(a.name, value(a), S) for a in chosen]
        return ast.Call(name, tuple(positional + keywords), S)

    def name() -> str:
        if rng.random() < hostile:
            return rng.choice(HOSTILE_NAMES)
        return f"n{rng.randrange(5)}"

    def entry(depth: int) -> ast.Entry:
        kind = rng.randrange(9) if depth < 3 else 0
        if kind <= 3:
            return call()
        if kind == 4:
            return ast.Sequence(tuple(entry(depth + 1) for _ in range(rng.randrange(1, 4))), S)
        if kind == 5:
            return ast.Merge(rng.choice(["concat", "add", "mul"]),
                             tuple(entry(depth + 1) for _ in range(rng.choice([1, 2, 2, 3]))),
                             (), S)
        if kind == 6:
            count: ast.Expr = (hostile_expr() if rng.random() < hostile
                               else ast.Literal(rng.randrange(4), S))
            return ast.Repeat(count, "i", entry(depth + 1), S)
        if kind == 7:
            return ast.Merge("add", (entry(depth + 1), ast.Call("identity", (), S)), (), S)
        return ast.Named(name(), entry(depth + 1), S)

    def doc() -> str | None:
        if rng.random() < 0.5:
            return None
        return rng.choice(HOSTILE_DOCS) if rng.random() < 0.5 else "a generated network"

    for index in range(rng.randrange(3)):
        params = tuple(ast.Param(p, None, S) for p in ["c", "k"][:rng.randrange(3)])
        if "c" in [p.name for p in params]:
            body: ast.Entry = ast.Sequence((ast.Call("conv", (
                ast.Argument(None, ast.Name("c", S), S),
                ast.Argument(None, ast.Literal(1, S), S)), S), entry(2)), S)
        else:
            body = entry(1)
        blocks.append(ast.BlockDef(f"b{index}", params, body, rng.random() < 0.2, doc(), S))
    if rng.random() < 0.6:  # an image
        sizes = [rng.choice([1, 3, 8]), rng.choice([8, 16]), rng.choice([8, 16])]
    else:
        sizes = [rng.choice([1, 3, 8, 16]) for _ in range(rng.randrange(1, 4))]
    dims = tuple(ast.Literal(size, S) for size in sizes)
    body = ast.Sequence(tuple(entry(0) for _ in range(rng.randrange(1, 5))), S)
    return ast.Spec("generated", doc(), (), (ast.InputDecl("x", dims, S),), tuple(blocks), body,
                    (), S)


class PrinterFailure(AssertionError):
    """archc's own printer (what `archc convert` and `archc fmt` write) failed on a spec."""


def printed(spec: ast.Spec, rng: random.Random) -> tuple[str, str]:
    """A generated spec in one of the two spellings: (file name, text). The printers are
    archc's (convert, fmt): a crash is a failure, reported with the other spelling if that
    one prints."""
    spelling = rng.choice(["arch", "yaml"])
    printers = {"arch": print_text, "yaml": print_yaml}
    try:
        return f"generated.{spelling}", printers[spelling](spec)
    except Exception as error:
        other = "yaml" if spelling == "arch" else "arch"
        try:
            shown = printers[other](spec)
        except Exception:
            shown = repr(spec)
        raise PrinterFailure(f"the {spelling} printer (archc convert/fmt) crashed: "
                             f"{type(error).__name__}: {error}\n--- the spec ({other}):\n"
                             f"{shown!r}") from None


# ---------------------------------------------------------------- the guarded child


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


class Guard:
    """A child process without torch that elaborates specs and runs archc commands under a time
    bound (it is killed and restarted when an input takes longer) and a memory bound."""

    def __init__(self, timeout: float = BUDGET) -> None:
        self.timeout = timeout
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop(PWNED, None)
        return subprocess.Popen([sys.executable, "-m", "tests.test_fuzz", "--worker"],
                                cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True, env=env, preexec_fn=_limit_memory)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
            self._wait(60.0)  # the child's imports: "ready"
        process = self.process
        assert process.stdin is not None
        start = time.perf_counter()
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
            line = self._wait(self.timeout)
        except (BrokenPipeError, TimeoutError, EOFError) as problem:
            code = process.poll()
            self.close()
            if isinstance(problem, TimeoutError):
                return {"outcome": "hang", "seconds": time.perf_counter() - start}
            return {"outcome": "crash", "detail": f"the child died (exit {code}): out of "
                    "memory or a crash", "seconds": time.perf_counter() - start}
        return dict(json.loads(line))

    def _wait(self, timeout: float) -> str:
        process = self.process
        assert process is not None and process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise TimeoutError
        line = process.stdout.readline()
        if not line:
            raise EOFError
        return line


def _error_data(error: archc.ArchcError, text: str) -> dict[str, Any]:
    span = error.span
    return {"message": error.message, "render": error.render(), "line": span.line,
            "column": span.column, "located": span.source is not None and span.line > 0}


def _serve_network(request: dict[str, Any]) -> dict[str, Any]:
    from archc.lint import lint

    text, name = request["text"], request["name"]
    try:
        network = archc.network(parse(text, name))
        warnings = [w.render() for w in lint(network)]
        # the batch crosses to the parent as null, as in JSON reports
        shapes = [[None if d == BATCH else d for d in s] for s in network.output_shapes()]
        elements = sum(numel(node.shape) for node in network.node_list)
        return {"outcome": "accepted", "shapes": shapes, "warnings": warnings,
                "params": network.total_params, "elements": elements}
    except archc.ArchcError as error:
        return {"outcome": "error", **_error_data(error, text)}
    except BaseException as error:
        return {"outcome": "internal", "detail": f"{type(error).__name__}: {error}"[:2000],
                "traceback": traceback.format_exc()[-4000:]}


def _serve_cli(request: dict[str, Any]) -> dict[str, Any]:
    from click.testing import CliRunner

    from archc.cli import main

    os.chdir(request.get("cwd") or ROOT)
    result = CliRunner().invoke(main, request["argv"])
    internal = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        internal = "".join(traceback.format_exception(result.exception))[-4000:]
    return {"outcome": "cli", "code": result.exit_code, "stdout": result.stdout,
            "stderr": result.stderr, "internal": internal}


def worker() -> None:  # pragma: no cover - runs in the child
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        start = time.perf_counter()
        try:
            if "sleep" in request:  # tests of the guard itself
                time.sleep(request["sleep"])
            reply = _serve_cli(request) if "argv" in request else _serve_network(request)
        except BaseException as error:
            reply = {"outcome": "internal", "detail": f"{type(error).__name__}: {error}"[:2000]}
        reply["seconds"] = time.perf_counter() - start
        reply["pwned"] = os.environ.pop(PWNED, None) is not None
        print(json.dumps(reply), flush=True)


# ---------------------------------------------------------------- the whole path


def module_body_problems(tree: pyast.Module) -> list[str]:
    """What a generated module must not hold at its top level: anything but the docstring,
    imports, function and class definitions (no calls, no stray expressions)."""
    problems = []
    for index, statement in enumerate(tree.body):
        if (index == 0 and isinstance(statement, pyast.Expr)
                and isinstance(statement.value, pyast.Constant)
                and isinstance(statement.value.value, str)):
            continue
        if not isinstance(statement, (pyast.Import, pyast.ImportFrom, pyast.FunctionDef,
                                      pyast.ClassDef)):
            problems.append(f"line {statement.lineno}: a top-level "
                            f"{type(statement).__name__} in the generated module")
    for node in pyast.walk(tree):
        if isinstance(node, pyast.ClassDef):
            for index, statement in enumerate(node.body):
                if index == 0 and isinstance(statement, pyast.Expr) and isinstance(
                        statement.value, pyast.Constant):
                    continue
                if not isinstance(statement, (pyast.FunctionDef, pyast.Assign,
                                              pyast.AnnAssign, pyast.Pass)):
                    problems.append(f"line {statement.lineno}: a {type(statement).__name__} "
                                    f"in the body of class {node.name}")
    return problems


def docstrings(tree: pyast.Module) -> tuple[str | None, list[str]]:
    """The module's docstring and those of its classes."""
    classes = [pyast.get_docstring(node, clean=False) for node in pyast.walk(tree)
               if isinstance(node, pyast.ClassDef)]
    return pyast.get_docstring(tree, clean=False), [d for d in classes if d is not None]


def doc_problems(tree: pyast.Module, spec: ast.Spec, network: Any = None) -> list[str]:
    """Every doc of the spec appears as a docstring: the network's inside the module docstring,
    each instantiated block's as its class docstring, with every character but whitespace as
    written and the words in order (long docs are wrapped between words)."""
    used = None if network is None else {m.block for m in network.modules.values()
                                          if m.kind == "block"}
    problems = []
    module_doc, class_docs = docstrings(tree)
    if spec.doc and (module_doc is None or _words(spec.doc) not in _words(module_doc)):
        problems.append(f"the network doc {spec.doc!r} is not in the module docstring "
                        f"{module_doc!r}")
    for block in spec.blocks:
        if used is not None and block.name not in used:
            continue
        if block.doc and not block.inline and _words(block.doc) not in {
                _words(d) for d in class_docs}:
            problems.append(f"the doc of block {block.name!r}, {block.doc!r}, is no class "
                            f"docstring (found {class_docs!r})")
    return problems


def _words(text: str) -> str:
    """Text with each run of whitespace as one space: what wrapping a line leaves unchanged."""
    return " ".join(text.split())


def execute_source(text: str) -> Any:
    """The generated source executed in a fresh namespace: the root class (the last class)."""
    tree = pyast.parse(text)
    name = [node.name for node in tree.body if isinstance(node, pyast.ClassDef)][-1]
    namespace: dict[str, Any] = {"__name__": "archc_fuzz_generated"}
    exec(compile(text, "<generated>", "exec"), namespace)
    return namespace[name]


def state_shapes(module: Any) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def run_forward(module: Any, network: Any, batch: int = 2) -> list[list[int]]:
    import torch

    inputs = [torch.randn(batch, *[d for d in network.node(i).shape[1:]])
              for i in network.inputs.values()]
    module.eval()
    with torch.no_grad():
        out = module(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [list(o.shape) for o in outs]


def static(shapes: Any, batch: int = 2) -> list[list[int]]:
    return [[batch if d == BATCH else d for d in s] for s in shapes]


def whole_path(text: str, name: str) -> list[str]:
    """Source, ast, exec, build and forward of an accepted spec: the problems found (empty when
    sound). Runs in this process; call it only on inputs the guard accepted."""
    problems: list[str] = []
    before = os.environ.pop(PWNED, None)
    try:
        spec = parse(text, name)
        network = archc.network(spec)
        source = archc.source(spec)
        try:
            tree = pyast.parse(source)
        except SyntaxError as error:
            return [f"the generated source does not parse: {error}"]
        problems += module_body_problems(tree)
        problems += doc_problems(tree, spec, network)
        if problems:
            return problems  # never run source that holds more than definitions
        executed = execute_source(source)()
        built = archc.build(spec)
        if state_shapes(executed) != state_shapes(built):
            problems.append(f"state_dict of the executed .py {state_shapes(executed)} differs "
                            f"from build's {state_shapes(built)}")
        got = run_forward(built, network)
        want = static(network.output_shapes())
        if got != want:
            problems.append(f"forward gives {got}, the static shapes say {want}")
    except archc.ArchcError as error:
        problems.append(f"check accepted it, then: {error.render()}")
    except Exception as error:
        problems.append(f"{type(error).__name__}: {error}"[:3000])
    finally:
        if os.environ.pop(PWNED, None) is not None:
            problems.append("spec text ran as code (the payload set ARCHC_PWNED)")
        if before is not None:
            os.environ[PWNED] = before
    return problems


def judge(reply: dict[str, Any], text: str) -> str | None:
    """None when the guarded elaboration ended as it may; else what went wrong."""
    lines = max(1, len(re.split(r"\r\n|\r|\n", text)), len(text.splitlines()))
    if reply.get("pwned"):
        return "spec text ran as code while checking"
    outcome = reply["outcome"]
    if outcome == "hang":
        return f"no answer within {BUDGET} s (killed)"
    if outcome in ("crash", "internal"):
        return f"{outcome}: {reply.get('detail')}\n{reply.get('traceback', '')}"
    if reply["seconds"] >= BUDGET:
        return f"{reply['seconds']:.2f} s for one input"
    if outcome == "error":
        if not reply["located"]:
            return f"an error without a location: {reply['render']}"
        if not 1 <= reply["line"] <= lines + 1:
            return f"located outside the file: {reply['render']}"
    return None


def run(inputs: int, seed: int, guard: Guard | None = None,
        keep_going: bool = False) -> dict[str, int]:
    """`inputs` fuzzed inputs; raises AssertionError with the input on the first failure (or,
    with `keep_going`, prints each failure with its input and counts it). Returns counts per
    outcome."""
    rng = random.Random(seed)
    texts = corpus()
    counts: dict[str, int] = {}
    own = guard is None
    guard = guard or Guard()
    try:
        for index in range(inputs):
            if index % 4 == 3:  # every fourth input is generated, in one of the two spellings
                try:
                    name, text = printed(generate(rng, hostile=0.15), rng)
                except PrinterFailure as failure:
                    if not keep_going:
                        raise
                    counts["FAILED"] = counts.get("FAILED", 0) + 1
                    print(f"FAILURE {failure}\n", flush=True)
                    continue
            else:
                name, text = rng.choice(texts)
            for _ in range(rng.randrange(0 if index % 4 == 3 else 1, 4)):
                text = mutate(text, rng)
            reply = guard.call({"text": text, "name": name})
            failure = judge(reply, text)
            if failure is None and reply["outcome"] == "accepted":
                accepted = counts.get("accepted", 0)
                counts["accepted"] = accepted + 1
                if (accepted % WHOLE_PATH_EVERY == 0 and reply["params"] <= WHOLE_PATH_PARAMS
                        and reply["elements"] <= WHOLE_PATH_ELEMENTS):
                    problems = whole_path(text, name)
                    failure = "; ".join(problems) if problems else None
                    counts["whole path"] = counts.get("whole path", 0) + 1
            elif failure is None:
                counts["error"] = counts.get("error", 0) + 1
            if failure is not None:
                report = f"{failure}\n--- input {index} of seed {seed} ({name}):\n{text!r}"
                if not keep_going:
                    raise AssertionError(report)
                counts["FAILED"] = counts.get("FAILED", 0) + 1
                print(f"FAILURE {report}\n", flush=True)
    finally:
        if own:
            guard.close()
    return counts


@pytest.mark.parametrize("seed", range(2))
def test_mutated_specs_give_a_network_or_a_located_error(seed: int) -> None:
    counts = run(INPUTS // 2, seed)
    assert sum(v for k, v in counts.items() if k != "whole path") == INPUTS // 2


def test_the_corpus_itself_is_valid() -> None:
    for name, text in corpus():
        archc.network(parse(text, name))


def test_the_guard_answers_kills_hangs_and_restarts() -> None:
    """The guard itself: a plain spec is accepted, a hang is killed within the bound and
    reported, and the next request gets a fresh child."""
    with Guard(timeout=1.0) as guard:
        reply = guard.call({"text": "input: [4]\nlayers:\n  - linear(2)\n", "name": "a.yaml"})
        assert reply["outcome"] == "accepted" and reply["shapes"] == [[None, 2]]
        assert not reply["pwned"]
        assert guard.call({"sleep": 30})["outcome"] == "hang"
        reply = guard.call({"text": "input: [4]\nlayers:\n  - rellu\n", "name": "a.yaml"})
        assert reply["outcome"] == "error" and reply["line"] == 3 and reply["located"]


if __name__ == "__main__":  # `make fuzz`: python -m tests.test_fuzz [inputs] [seed]
    if sys.argv[1:] == ["--worker"]:
        worker()
        sys.exit(0)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else INPUTS
    first_seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    start = time.perf_counter()
    done = run(count, first_seed, keep_going=True)
    print(f"fuzz: {count} inputs, seed {first_seed}, counts {done}, "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    sys.exit(1 if done.get("FAILED") else 0)
