"""The bounds on the work one spec may cause, in one light module: the CLI reads their defaults
for its --max-* options without importing the compiler (so `archc --help` starts fast).

Input: nothing. Output: `Limits`, what elaboration and reading enforce (docs/security.md).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_NODES = 30_000  # the zoo's largest network has about 600; 10,000-layer specs fit
MAX_DEPTH = 64
MAX_REPEAT = 10_000
MAX_STEPS = 100_000  # a 10,000-layer spec takes about 25,000, DenseNet-121 2,100
MAX_TOKENS = 20_000  # words, numbers and symbols in one spec; the zoo's largest has 600
# sizes no network on one machine reaches (the zoo's largest: VGG-16 with 138M parameters,
# 3.2M elements in its largest activation), far below what makes arithmetic slow or overflow
MAX_PARAMS = 10**10  # 40 GB of float32
MAX_ELEMENTS = 2**26  # 256 MiB of float32 for one tensor of one sample


@dataclass(frozen=True)
class Limits:
    """How large a network may grow before elaboration refuses it (every spec in the zoo fits
    with room to spare: DenseNet-121 has about 600 nodes and 3 levels of blocks)."""

    max_nodes: int = MAX_NODES  # op nodes in the elaborated network
    max_depth: int = MAX_DEPTH  # block instances nested in each other
    max_repeat: int = MAX_REPEAT  # iterations of one repeat
    max_steps: int = MAX_STEPS  # work: entries, repeat iterations and expression steps
    max_params: int = MAX_PARAMS  # parameters and buffers of the whole network
    max_elements: int = MAX_ELEMENTS  # elements of one tensor, for one sample
    max_tokens: int = MAX_TOKENS  # words, numbers and symbols of the spec text
