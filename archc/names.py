"""Which names a spec may use: the rules that keep a spec's names faithful in PyTorch.

Input: a name from a spec (an entry, block, parameter, input or network name) and its span.
Output: nothing, or an ArchcError saying why the name cannot stand and what to write instead.

An entry's name becomes an attribute of the generated nn.Module and a state_dict key, so it is
never renamed: a name that Python or PyTorch would change, mangle or shadow is refused when the
spec is checked. Torch-free: the attributes of nn.Module are listed here, and a test compares
the list with the installed torch.
"""

from __future__ import annotations

import keyword
import re

from archc.errors import ArchcError, Span
from archc.expr.evaluate import FUNCTIONS

# the names an nn.Module (and the containers the generated code subclasses: nn.Sequential,
# nn.ModuleList) has as methods or instance attributes; a child of that name would shadow one
# of them (a child named `forward` replaces the forward pass, one named `training` is
# overwritten by .eval()); `archc_source` is the attribute archc.build adds to a built module
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "append", "apply", "archc_source", "bfloat16", "buffers",
    "call_super_init", "children", "clear", "compile", "cpu", "cuda", "double",
    "dump_patches", "eval", "extend", "extra_repr", "float", "forward", "get_buffer",
    "get_extra_state", "get_parameter", "get_submodule", "half", "insert", "ipu", "items",
    "keys", "load_state_dict", "modules", "mtia", "named_buffers", "named_children",
    "named_modules", "named_parameters", "parameters", "pop", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook",
    "register_state_dict_pre_hook", "requires_grad_", "set_extra_state", "set_submodule",
    "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "update",
    "values", "xpu", "zero_grad",
})
# names the generated source itself uses inside a class: a constructor parameter of one of
# these names would hide it (`nn.Conv2d` with a parameter named nn)
CODE_NAMES = frozenset({"self", "torch", "nn", "super", "OrderedDict", "with_weights",
                        "initialized", "in_channels"})
# the functions of spec expressions, written as the Python builtins of the same name
EXPRESSION_FUNCTIONS = frozenset(FUNCTIONS)
MAX_NAME_LENGTH = 100  # a name is also a file name (NAME.pt) and a class name
ASCII_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _alternative(name: str, reserved: frozenset[str]) -> list[str]:
    """A name that would stand in its place, for "did you mean"."""
    for candidate in (name.strip("_"), f"{name.strip('_')}_layer", f"{name}_"):
        if (ASCII_IDENTIFIER.match(candidate) and not keyword.iskeyword(candidate)
                and not candidate.startswith("_") and candidate not in reserved):
            return [candidate]
    return []


def _problem(name: str, what: str) -> tuple[str, str] | None:
    """Why `name` cannot be used as `what`, and a note; None when it can."""
    if not ASCII_IDENTIFIER.match(name):
        return (f"{what} '{name}' is not a name",
                "a name is ASCII letters, digits and _, not starting with a digit (an entry's "
                "may join such names with -: block1-0)")
    if len(name) > MAX_NAME_LENGTH:
        return (f"{what} is {len(name)} characters long",
                f"names are at most {MAX_NAME_LENGTH} characters (they become file, class "
                "and attribute names)")
    if keyword.iskeyword(name):
        return f"{what} '{name}' is a Python keyword", "it cannot be an attribute name"
    if name.startswith("_"):
        return (f"{what} '{name}' starts with _",
                "names starting with _ are reserved: Python mangles __names and nn.Module "
                "keeps its own state in _names")
    return None


# an entry name may join names with '-' (torchvision's RegNet keys: `block1-0`): a module's
# key in its parent, which PyTorch allows (not '.'), though not a Python attribute
HYPHENATED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)+\Z")


def check_attribute(name: str, span: Span, what: str = "the entry name") -> None:
    """An entry name: it becomes a child module's attribute (or, joined with '-', its key
    in its parent) and its state_dict key."""
    problem = _problem(name.replace("-", "_") if HYPHENATED.match(name) else name, what)
    if problem is not None:
        problem = (problem[0].replace(f"'{name.replace('-', '_')}'", f"'{name}'"), problem[1])
    if problem is None and name in MODULE_ATTRIBUTES:
        problem = (f"{what} '{name}' is an attribute of nn.Module",
                   f"a child named {name} would hide nn.Module.{name}")
    if problem is None and name in ("torch", "nn"):  # TorchScript resolves self.torch first
        problem = (f"{what} '{name}' is a name the generated code uses",
                   f"forward calls {name}.* functions (torch.cat, torch.flatten ...)")
    if problem is not None:
        message, note = problem
        raise ArchcError(message, span, notes=[note, "archc never renames an entry: its name "
                                               "is the state_dict key"],
                         suggestions=_alternative(name, MODULE_ATTRIBUTES))


def check_parameter(name: str, span: Span, what: str = "the parameter name") -> None:
    """A block or spec parameter: it becomes a constructor argument in generated code."""
    problem = _problem(name, what)
    reserved = CODE_NAMES | EXPRESSION_FUNCTIONS
    if problem is None and name in reserved:
        problem = (f"{what} '{name}' is a name the generated code needs",
                   f"a parameter named {name} would hide it in the constructor")
    if problem is not None:
        message, note = problem
        raise ArchcError(message, span, notes=[note], suggestions=_alternative(name, reserved))


def check_name(name: str, span: Span, what: str) -> None:
    """A block, input or network name: a class, argument or file name in generated code
    (class names are CamelCased, so a keyword or a leading _ does not matter there)."""
    problem = _problem(name, what)
    if problem is not None and what in ("the network name", "the block name") and (
            keyword.iskeyword(name) or name.startswith("_")) and ASCII_IDENTIFIER.match(name) \
            and len(name) <= MAX_NAME_LENGTH:
        problem = None
    if problem is not None:
        message, note = problem
        raise ArchcError(message, span, notes=[note], suggestions=_alternative(name, frozenset()))
