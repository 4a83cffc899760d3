"""Fuzzing the front ends: every spec in the repository, in both spellings, mutated (lines and
tokens deleted, duplicated and swapped, numbers set to 0, -1 or huge, unicode and binary junk
inserted, files cut short), and random specs generated from the grammar's constructs and the
registry's ops, printed in either spelling and sometimes mutated too. The only allowed outcomes
are a network or an ArchcError located inside the file, within 2 s per input; never another
exception.

`make test` runs a sample; `make fuzz` runs ARCHC_FUZZ_INPUTS=100000 (see the Makefile).
"""

from __future__ import annotations

import os
import random
import re
import time
from functools import cache
from pathlib import Path

import pytest

import archc
from archc.api import parse
from archc.errors import UNKNOWN_SPAN as S
from archc.frontend import ast
from archc.frontend.printer import print_text, print_yaml
from archc.ops import OPS
from tests.conftest import ALL_SPECS

INPUTS = int(os.environ.get("ARCHC_FUZZ_INPUTS", "400"))
# seconds per input: a bound against hangs, not a speed goal (make fuzz uses the 2 s;
# the sample in make test allows for a loaded CI machine)
BUDGET = float(os.environ.get("ARCHC_FUZZ_BUDGET", "5"))
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(\.\d+)?|\S")
NUMBER = re.compile(r"\b\d+\b")
JUNK = ["\x00", "\xff", "\u200b", "\u00e9", "\U0001f600", "\t", "\r", "\\", "'", '"', "{", "}",
        "[", "]", "(", ")", ":", ";", "@", "#", "&a", "*a", "!!python/object:os.system", "- ",
        "\n  - ", "<<: ", "\x1b[31m"]


@cache
def corpus() -> list[tuple[str, str]]:
    """(file name, text) of every spec, each in both spellings."""
    texts = []
    for path in ALL_SPECS:
        spec = archc.load(path)
        texts.append((path.stem + ".yaml", print_yaml(spec)))
        texts.append((path.stem + ".arch", print_text(spec)))
    return texts


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    kind = rng.randrange(10)
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
    elif kind == 6:  # a number set to 0, -1 or huge
        numbers = list(NUMBER.finditer(text))
        if numbers:
            m = rng.choice(numbers)
            value = rng.choice(["0", "-1", "999999999999", "1e308", "2 ** 62"])
            return text[:m.start()] + value + text[m.end():]
    elif kind == 7:  # junk inserted
        position = rng.randrange(len(text) + 1)
        return text[:position] + rng.choice(JUNK) + text[position:]
    elif kind == 8:  # cut short
        return text[:rng.randrange(len(text) + 1)]
    else:  # random bytes
        position = rng.randrange(len(text) + 1)
        junk = "".join(chr(rng.randrange(0, 0x3000)) for _ in range(rng.randrange(1, 8)))
        return text[:position] + junk + text[position:]
    return "".join(lines)


def generate(rng: random.Random) -> ast.Spec:
    """A random spec from the grammar's constructs and the registry's ops (grammar-aware
    generation: mostly well-formed, often ill-typed or ill-shaped)."""
    ops = sorted(OPS)

    def number() -> ast.Expr:
        return ast.Literal(rng.choice([0, 1, 2, 3, 4, 8, 16, -1, 1.5, True, "same"]), S)

    def call() -> ast.Entry:
        args = tuple(ast.Argument(None, number(), S) for _ in range(rng.randrange(3)))
        return ast.Call(rng.choice(ops), args, S)

    def entry(depth: int) -> ast.Entry:
        kind = rng.randrange(8) if depth < 3 else 0
        if kind <= 3:
            return call()
        if kind == 4:
            return ast.Sequence(tuple(entry(depth + 1) for _ in range(rng.randrange(1, 4))), S)
        if kind == 5:
            return ast.Merge(rng.choice(["concat", "add", "mul"]),
                             tuple(entry(depth + 1) for _ in range(rng.randrange(1, 3))), (), S)
        if kind == 6:
            return ast.Repeat(ast.Literal(rng.randrange(4), S), "i", entry(depth + 1), S)
        return ast.Named(f"n{rng.randrange(5)}", entry(depth + 1), S)

    dims = tuple(ast.Literal(rng.choice([1, 3, 8, 16]), S) for _ in range(rng.randrange(1, 4)))
    body = ast.Sequence(tuple(entry(0) for _ in range(rng.randrange(1, 5))), S)
    return ast.Spec("generated", None, (), (ast.InputDecl("x", dims, S),), (), body, (), S)


def check(name: str, text: str) -> None:
    start = time.perf_counter()
    try:
        archc.network(parse(text, name))
    except archc.ArchcError as error:
        lines = max(1, len(text.split("\n")))
        span = error.span
        assert span.source is not None, f"an error without a location: {error.render()}"
        assert 1 <= span.line <= lines + 1, f"located outside the file: {error.render()}"
    elapsed = time.perf_counter() - start
    assert elapsed < BUDGET, f"{elapsed:.2f} s for one input"


def run(inputs: int, seed: int) -> int:
    rng = random.Random(seed)
    texts = corpus()
    for index in range(inputs):
        if index % 4 == 3:  # every fourth input is generated, in one of the two spellings
            spec = generate(rng)
            name, text = rng.choice([("generated.arch", print_text(spec)),
                                     ("generated.yaml", print_yaml(spec))])
        else:
            name, text = rng.choice(texts)
        for _ in range(rng.randrange(0 if index % 4 == 3 else 1, 4)):
            text = mutate(text, rng)
        try:
            check(name, text)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\n--- input ({name}):\n{text}") from None
    return inputs


@pytest.mark.parametrize("seed", range(2))
def test_mutated_specs_give_a_network_or_a_located_error(seed: int) -> None:
    assert run(INPUTS // 2, seed) == INPUTS // 2


def test_the_corpus_itself_is_valid() -> None:
    for name, text in corpus():
        archc.network(parse(text, name))


if __name__ == "__main__":  # `make fuzz`: python -m tests.test_fuzz [inputs] [seed]
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else INPUTS
    first_seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    start = time.perf_counter()
    done = run(count, first_seed)
    print(f"fuzz: {done} inputs, seed {first_seed}, no failure, "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    sys.exit(0 if Path(__file__).exists() else 1)
