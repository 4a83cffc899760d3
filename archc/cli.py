"""The command line: archc shapes | compile | check | convert | fmt | ops | draw.

Input: argv; a SPEC argument is always a path (a regular file). Output: tables, JSON,
artefacts and diagnostics. Every ArchcError is rendered with its source line and caret on
stderr (exit 1); usage errors exit 2; SIGINT, SIGTERM and SIGHUP remove any temporary file and
exit 128 + the signal's number; no traceback reaches the user. No output is ever written over
an input (the spec, --weights), however the two are spelt.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import click

from archc.errors import ArchcError, suggest
from archc.files import Terminated, install_signal_handlers
from archc.limits import Limits
from archc.version import VERSION


def _lazy(name: str) -> ModuleType:
    """A module that is imported when one of its names is first read (the standard library's
    LazyLoader)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)  # as an import binds it: archc.api
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    from archc import api
else:
    # the compiler is imported when a command first uses it, not to print --help
    api = _lazy("archc.api")


EPILOG = """\b
Examples:
  archc shapes specs/vgg.yaml                  per-layer shape table
  archc shapes specs/googlenet.yaml --depth 1  top-level blocks only
  archc shapes specs/vgg.yaml --format json    the same, for tools
  archc compile specs/googlenet.yaml           TorchScript: googlenet.pt
  archc compile specs/resnet.yaml -o model.py  readable PyTorch source
  archc check specs/*.yaml                     validate, report every error

The --max-* limits bound the work a spec from a stranger can cause; what archc
guarantees for such specs: docs/security.md.
"""


def parse_param(text: str) -> tuple[str, Any]:
    """`-p k=v`: v is an archc expression (numbers, strings, lists, arithmetic)."""
    if "=" not in text:
        raise click.BadParameter(f"expected name=value, got {text!r}")
    name, value = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise click.BadParameter(f"{name!r} is not a parameter name")
    try:
        return name, api.value(value)
    except ArchcError:
        return name, value  # a bare word is a string: -p mode=nearest


def parse_input(text: str) -> tuple[str, list[int]]:
    """`--input 3x224x224` or `--input image=3x224x224`."""
    name, _, dims = text.rpartition("=")
    if not re.fullmatch(r"\d+(x\d+)*", dims.strip()):
        raise click.BadParameter(f"expected sizes like 3x224x224, got {dims!r}")
    return name.strip(), [int(d) for d in dims.strip().split("x")]


def _params(values: Sequence[str]) -> dict[str, Any]:
    return dict(parse_param(v) for v in values)


def _inputs(values: Sequence[str]) -> dict[str, list[int]] | None:
    return dict(parse_input(v) for v in values) if values else None


def _seed(context: click.Context, param: click.Parameter, text: str | None) -> int | None:
    """`--init seed=N` → N."""
    if text is None:
        return None
    match = re.fullmatch(r"seed=(\d+)", text.strip())
    if not match:
        raise click.BadParameter(f"expected seed=N, got {text!r}")
    return int(match.group(1))


def _warn(network: Any) -> None:
    """Print the spec's warnings on stderr; they never change the exit status."""
    for warning in api.warnings(network):
        click.echo(warning.render(), err=True)


def _fail(error: ArchcError) -> None:
    click.echo(error.render(), err=True)
    sys.exit(1)


param_option = click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
                            help="Override a spec parameter, e.g. -p num_classes=100.")
block_option = click.option("--block", metavar="NAME",
                            help="Take one block of the spec as the network; -p also sets its "
                                 "arguments, e.g. --block inception -p c1=64.")
DEFAULTS = Limits()
input_option = click.option("--input", "inputs", multiple=True, metavar="[NAME=]CxHxW",
                            help="Input shape without the batch dim, e.g. 3x224x224.")


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=VERSION, prog_name="archc")
@click.option("--max-nodes", type=click.IntRange(min=1),
              default=DEFAULTS.max_nodes, show_default=True,
              help="Refuse networks that elaborate to more nodes than this.")
@click.option("--max-depth", type=click.IntRange(min=1),
              default=DEFAULTS.max_depth, show_default=True,
              help="Refuse blocks nested deeper than this.")
@click.option("--max-steps", type=click.IntRange(min=1),
              default=DEFAULTS.max_steps, show_default=True,
              help="Refuse specs whose elaboration takes more steps (entries, repeat "
                   "iterations, expression steps) than this.")
@click.option("--max-params", type=click.IntRange(min=1), default=DEFAULTS.max_params,
              show_default=True, help="Refuse networks with more parameters and buffers.")
@click.option("--max-elements", type=click.IntRange(min=1), default=DEFAULTS.max_elements,
              show_default=True, help="Refuse tensors with more elements per sample.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=DEFAULTS.max_tokens,
              show_default=True, help="Refuse spec texts with more words, numbers and symbols.")
@click.pass_context
def main(context: click.Context, max_nodes: int, max_depth: int, max_steps: int,
         max_params: int, max_elements: int, max_tokens: int) -> None:
    """archc: an architecture compiler for PyTorch.

    Write a network as a short spec (YAML or the .arch text form); archc checks every shape
    statically, before anything runs, and compiles it to TorchScript, torch.export, readable
    PyTorch source or a diagram.
    """
    context.obj = Limits(max_nodes=max_nodes, max_depth=max_depth, max_steps=max_steps,
                         max_params=max_params, max_elements=max_elements,
                         max_tokens=max_tokens)


def _limits() -> Limits:
    """The limits given to the `archc` command (--max-nodes, --max-depth, --max-steps,
    --max-params, --max-elements, --max-tokens)."""
    limits = click.get_current_context().find_root().obj
    return limits if isinstance(limits, Limits) else Limits()


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@input_option
@param_option
@block_option
@click.option("--depth", type=click.IntRange(min=1), help="Show only this many levels of nesting.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="A table for people or JSON for tools.")
@click.option("--columns", default="op,shape,params,macs", show_default=True,
              metavar="COLUMN,...",
              help="Table columns after the layer name, comma-separated, from: op, shape, "
                   "params, macs, flops, memory (output bytes), rf (receptive field), stride "
                   "(effective stride); or all.")
@click.option("--dtype", type=click.Choice(["float32", "float16", "bfloat16", "float64",
                                            "int8"]),
              default="float32", show_default=True, help="Element type for activation memory.")
@click.option("--min-input", "min_input", is_flag=True,
              help="Also find the smallest valid input size and the sizes that keep every "
                   "strided op exact (searches sizes, elaborating the spec at each).")
def shapes(spec: str, inputs: Sequence[str], params: Sequence[str], block: str | None,
           depth: int | None, fmt: str, columns: str, dtype: str, min_input: bool) -> None:
    """Print the static shape, parameters, MACs, FLOPs, memory and receptive field of every
    layer, with no tensor run (conventions: docs/analysis.md).

    \b
    JSON: {"name", "inputs", "outputs", "params", "macs", "flops", "memory",
    "layers": [{"path", "op", "shape", "params", "macs", "flops", "memory",
    "rf", "stride", ...}], "min_input"}; shapes list the batch dimension as
    null; memory is in bytes per sample, rf and stride in input positions.
    """
    try:
        chosen = api.report_columns(columns)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--columns") from None
    try:
        tree = api.load(Path(spec), _limits())  # parsed once: --min-input elaborates it often
        values = _params(params)
        network = api.network(tree, _inputs(inputs), block, _limits(), **values)
        report = api.report(network, depth, dtype)
        _warn(network)
        if min_input:
            report["min_input"] = api.min_input(network, tree, _inputs(inputs), block,
                                                _limits(), dtype, **values)
    except ArchcError as error:
        _fail(error)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        api.print_report(report, chosen)


@main.command(name="compile")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file; its extension picks the format: .pt (TorchScript; the "
                   "default is NAME.pt in the current folder), .py (readable source), .pt2 "
                   "(torch.export), .onnx (ONNX; needs pip install 'archc[onnx]').")
@input_option
@param_option
@block_option
@click.option("--weights", type=click.Path(dir_okay=False), metavar="CKPT",
              help="Load a checkpoint (a state_dict, or one under 'state_dict'/'model') strictly.")
@click.option("--init", "seed", metavar="seed=N", callback=_seed,
              help="Reproducible initial weights: torch.manual_seed(N) before building.")
def compile_command(spec: str, output: str | None, inputs: Sequence[str],
                    params: Sequence[str], block: str | None, weights: str | None,
                    seed: int | None) -> None:
    """Compile a spec into a module artefact (TorchScript by default)."""
    try:
        network = api.network(Path(spec), _inputs(inputs), block, _limits(), **_params(params))
    except ArchcError as error:
        _fail(error)
    target = Path(output) if output else Path(f"{network.name}.pt")
    try:  # before anything is built or written: no output ever replaces an input
        api.check_output(target, [Path(spec), Path(weights) if weights is not None else None])
    except ArchcError as error:
        _fail(error)
    if target.suffix not in api.FORMATS:
        raise click.BadParameter(f"unknown extension {target.suffix!r}; use "
                                 + ", ".join(api.FORMATS), param_hint="-o/--output")
    if target.suffix == ".py" and (weights is not None or seed is not None):
        raise click.BadParameter("a .py file holds no weights; --weights and --init apply "
                                 "to .pt, .pt2 and .onnx", param_hint="-o/--output")
    try:
        for note in api.write(network, target, weights, seed):
            click.echo(f"note: {note}", err=True)
    except ArchcError as error:
        _fail(error)
    click.echo(f"wrote {target} ({api.FORMATS[target.suffix]}): {network.name}, "
               f"{network.total_params:,} parameters")


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@param_option
def check(specs: Sequence[str], params: Sequence[str]) -> None:
    """Validate specs: exit 0 when all are valid, 1 otherwise (errors on stderr)."""
    failed = 0
    for spec in specs:
        try:
            network = api.network(Path(spec), None, None, _limits(), **_params(params))
        except ArchcError as error:
            click.echo(error.render(), err=True)
            failed += 1
            continue
        shapes = ", ".join(api.format_shape(s) for s in network.output_shapes())
        click.echo(f"ok  {spec}: {network.name} → {shapes}, {network.total_params:,} params")
        _warn(network)
    if failed:
        click.echo(f"{failed} of {len(specs)} spec{'s' if len(specs) > 1 else ''} failed",
                   err=True)
        sys.exit(1)


SPELLINGS = {".arch": "arch", ".yaml": "yaml", ".yml": "yaml"}


def _spelling(path: str) -> str:
    suffix = Path(path).suffix
    if suffix not in SPELLINGS:
        raise click.BadParameter(f"{path}: unknown spec extension {suffix!r}; use .arch, .yaml "
                                 "or .yml")
    return SPELLINGS[suffix]


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write; the extension picks the spelling (.arch or .yaml).")
@click.option("--to", "target", type=click.Choice(["arch", "yaml"]),
              help="The spelling to print to standard output (without -o).")
def convert(spec: str, output: str | None, target: str | None) -> None:
    """Convert a spec between the YAML and the text (.arch) spelling.

    \b
    Names, parameter expressions (not their values) and comments are kept:
      archc convert specs/googlenet.yaml -o googlenet.arch
      archc convert net.arch --to yaml
    """
    if output is None and target is None:
        raise click.UsageError("give -o OUT.(arch|yaml) or --to arch|yaml")
    spelling = _spelling(output) if output else str(target)
    if output and Path(output).resolve() == Path(spec).resolve():
        raise click.BadParameter("refusing to overwrite the input; use archc fmt to reformat "
                                 "a file in place", param_hint="-o/--output")
    try:
        if output:
            api.check_output(Path(output), [Path(spec)])
        api.load(Path(spec), _limits())  # what it imports must read too
        tree = api.load(Path(spec), _limits(), imports=False)  # converted as it is written
        if output and tree.imports:  # imports are relative to the file that names them
            tree = api.imports_moved(tree, Path(spec).parent, Path(output).parent)
        text = api.print_spec(tree, spelling)
        if api.parse(text, f"<converted>.{spelling}") != tree:
            raise ArchcError("the converted spec would not read back the same: this is a bug "
                             "in archc; please report it with the spec")
    except ArchcError as error:
        _fail(error)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        api.write_text(Path(output), text)
    except ArchcError as error:
        _fail(error)
    click.echo(f"wrote {output} ({'text form' if spelling == 'arch' else 'YAML'})")


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change "
                                             "(for CI and pre-commit).")
@click.option("--diff", "show_diff", is_flag=True,
              help="Change nothing; print what would change as a diff, exit 1 if a file "
                   "would change.")
def fmt(specs: Sequence[str], check: bool, show_diff: bool) -> None:
    """Rewrite specs in the canonical layout (.arch and YAML), keeping comments.

    Idempotent: formatting a formatted file changes nothing. A file is rewritten in place
    only when the result reads back to the same spec; it keeps its permissions, and a symlink
    is written through to its target. With --check or --diff nothing is written.
    """
    import difflib

    changed = failed = 0
    for spec in specs:
        path = Path(spec)
        try:
            spelling = _spelling(spec)
            original = api.read_text(path)
            tree = api.parse(original, spec, default_name=api.default_name(path))
            formatted = api.print_spec(tree, spelling)
            if formatted != original:
                _same_spec(formatted, tree, spec, path.suffix)
        except ArchcError as error:
            click.echo(error.render(), err=True)
            failed += 1
            continue
        if formatted == original:
            continue
        changed += 1
        if show_diff:
            click.echo("".join(difflib.unified_diff(
                original.splitlines(True), formatted.splitlines(True), spec, spec)), nl=False)
        if check or show_diff:
            if check:
                click.echo(f"would reformat {spec}")
            continue
        try:
            api.write_text(path, formatted)
        except ArchcError as error:
            click.echo(error.render(), err=True)
            failed += 1
            continue
        click.echo(f"reformatted {spec}")
    if failed or ((check or show_diff) and changed):
        sys.exit(1)


def _same_spec(formatted: str, tree: Any, spec: str, suffix: str) -> None:
    """Refuse a formatting that would not read back to the same spec (a printer bug): the
    file is then left as it was."""
    refusal = (f"{spec}: left unchanged: its formatted text would not read back as the same "
               "spec")
    hint = "this is a bug in archc's printer; please report it with the spec"
    try:
        again = api.parse(formatted, f"<formatted>{suffix}", default_name=tree.name)
    except ArchcError as error:
        raise ArchcError(refusal, found=error.message, notes=[hint]) from None
    if again != tree:
        raise ArchcError(refusal, notes=[hint])


@main.command()
@click.option("--clear", is_flag=True, help="Remove every entry.")
def cache(clear: bool) -> None:
    """Show where archc.build keeps the source it generated, or clear it.

    Building a spec again with the same parameters reuses that source, skipping parsing,
    elaboration and codegen. Set ARCHC_CACHE_DIR to move the cache and ARCHC_CACHE=0 to turn
    it off. An entry is reused only while archc and the spec's text are unchanged.
    """
    from archc import cache as source_cache

    folder = source_cache.directory()
    if folder is None:
        click.echo("the source cache is off (ARCHC_CACHE=0)")
        return
    if clear:
        removed = source_cache.clear()
        click.echo(f"removed {removed:,} entr{'y' if removed == 1 else 'ies'} from {folder}")
        return
    found = source_cache.entries(folder)
    size = sum(path.stat().st_size for path in found if path.exists())
    click.echo(f"{folder}: {len(found):,} entr{'y' if len(found) == 1 else 'ies'}, "
               f"{size / 1024:,.1f} KiB (at most {source_cache.MAX_ENTRIES:,} are kept)")


@main.command()
@click.argument("name", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "markdown"]), default="table",
              show_default=True, help="A table, or the Markdown of docs/ops.md.")
def ops(name: str | None, fmt: str) -> None:
    """List the ops a spec can use, or describe one (archc ops conv)."""
    from rich.markup import escape
    from rich.table import Table

    if fmt == "markdown":
        click.echo(api.op_reference(), nl=False)
        return
    OPS = api.ops()
    if name is not None and name not in OPS:
        _fail(ArchcError(f"unknown op '{name}'", suggestions=suggest(name, OPS)))
    from rich.console import Console

    console = Console(highlight=False)
    if name is None:
        table = Table(show_edge=False, header_style="bold")
        for column in ("op", "family", "signature"):
            table.add_column(column)
        for op in sorted(OPS.values(), key=lambda o: (o.family, o.name)):
            table.add_row(op.name, op.family, escape(op.signature()))
        console.print(table)
        return
    op = OPS[name]
    console.print(f"[bold]{escape(op.signature())}[/bold]\n{escape(op.doc)}\n"
                  f"shape: {escape(op.shape_rule)}")
    if not op.attrs:  # (matmul, sigmoid, identity): nothing to set
        console.print("no arguments")
        return
    table = Table(show_edge=False, header_style="bold")
    for column in ("argument", "default", "meaning"):
        table.add_column(column)
    for attr in op.attrs:
        default = "inferred" if attr.inferred else repr(attr.default)
        table.add_row(attr.name, escape(default), escape(attr.doc))
    console.print(table)


@main.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Output file; its extension picks the format: .svg (default: NAME.svg), "
                   ".png, .pdf, or .dot (DOT text, needs no Graphviz).")
@click.option("--depth", type=click.IntRange(min=1),
              help="Draw modules at this level as one node; folds conv-bn-activation runs.")
@click.option("--direction", type=click.Choice(["TB", "LR"], case_sensitive=False),
              metavar="[TB|LR]", default="TB", show_default=True,
              help="Top to bottom, or left to right.")
@click.option("--collapse/--no-collapse", default=True, show_default=True,
              help="Draw consecutive identical block instances once, marked ×N.")
@input_option
@param_option
@block_option
def draw(spec: str, output: str | None, depth: int | None, direction: str, collapse: bool,
         inputs: Sequence[str], params: Sequence[str], block: str | None) -> None:
    """Draw the network as a diagram from its static shapes (SVG by default).

    \b
    Nodes show each op with its key attributes and parameters, wires the tensor shapes,
    clusters the blocks with their paths. Rendering needs Graphviz's `dot` program.
    """
    formats = api.diagram_formats()
    if output is not None and Path(output).suffix.lower() not in formats:
        raise click.BadParameter(f"unknown extension {Path(output).suffix!r}; use "
                                 + ", ".join(formats), param_hint="-o/--output")
    try:
        network = api.network(Path(spec), _inputs(inputs), block, _limits(), **_params(params))
        target = Path(output) if output else Path(f"{network.name}.svg")
        api.check_output(target, [Path(spec)])
        api.write_diagram(api.diagram(network, depth, direction.upper(), collapse,
                                      laid_out=target.suffix.lower() != ".dot"), target)
    except ArchcError as error:
        _fail(error)
    click.echo(f"wrote {target} ({formats[target.suffix.lower()]}): {network.name}, "
               f"{network.total_params:,} parameters")


def run() -> None:
    """Entry point that keeps tracebacks away from users."""
    install_signal_handlers()  # signals raise, so that temporaries are removed on the way out
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        click.echo("archc: interrupted", err=True)
        sys.exit(130)
    except Terminated as error:  # the shell's convention: 128 + the signal's number
        click.echo(f"archc: {error}", err=True)
        sys.exit(128 + error.signum)
    except Exception as error:  # a compiler bug: say so plainly, without a traceback
        click.echo(f"archc: internal error: {type(error).__name__}: {error}\n"
                   "  this is a bug in archc; please report it with the spec", err=True)
        sys.exit(70)
