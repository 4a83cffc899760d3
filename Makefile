# archc: `make demo` and `make test` do all set-up on a fresh machine.
VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
ARCHC   := $(VENV)/bin/archc
STAMP   := $(VENV)/.archc-installed
OUT     ?= out
# torch is pinned to the local CPU wheel; an unpinned torch would pull gigabytes of CUDA.
TORCH   := torch==2.13.0
# torchvision is a test-only reference (its CUDA ops are not used); --no-deps keeps torch pinned.
TORCHVISION := torchvision==0.28.0

.PHONY: demo test lint install docs clean bench fuzz tables zoo artefacts

$(PYTHON):
	python3 -m venv $(VENV)

$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q $(TORCH)
	$(PYTHON) -m pip install -q -e '.[dev,onnx]'
	$(PYTHON) -m pip install -q --no-deps $(TORCHVISION) pillow numpy
	touch $@

install: $(STAMP)

demo: $(STAMP)
	@mkdir -p $(OUT)
	@echo "== archc compile specs/googlenet.yaml -o $(OUT)/googlenet.pt"
	@$(ARCHC) compile specs/googlenet.yaml -o $(OUT)/googlenet.pt
	@echo "== archc compile specs/googlenet.yaml -o $(OUT)/googlenet.py (readable source)"
	@$(ARCHC) compile specs/googlenet.yaml -o $(OUT)/googlenet.py
	@echo "== archc draw specs/googlenet.yaml --depth 3 -o $(OUT)/googlenet.svg (diagram)"
	@if command -v dot >/dev/null 2>&1; then \
		$(ARCHC) draw specs/googlenet.yaml --depth 3 -o $(OUT)/googlenet.svg; \
	else \
		echo "Graphviz dot not found (apt-get install graphviz); writing DOT text instead"; \
		$(ARCHC) draw specs/googlenet.yaml --depth 3 -o $(OUT)/googlenet.dot; \
	fi
	@echo "== archc shapes specs/vgg.yaml"
	@$(ARCHC) shapes specs/vgg.yaml
	@echo "== the compiled TorchScript module runs:"
	@$(PYTHON) examples/run_torchscript.py $(OUT)/googlenet.pt 3x96x96

test: $(STAMP)
	$(PYTHON) -m pytest -n auto --dist worksteal

lint: $(STAMP)
	$(VENV)/bin/ruff check archc tests examples $(wildcard bench)
	$(VENV)/bin/mypy

# benchmarks: never part of `make test`; torchinfo is the bench-only reference tool
# every torchvision builder with a spec, compared with torchvision output for output: eager, the
# written file and TorchScript (make test compares a representative of each family, and the
# others by keys and shapes on the meta device)
zoo: $(STAMP)
	$(PYTHON) -m tests.test_torchvision

# every spec in specs/ through torch.export and ONNX (onnxruntime), each compared with the eager
# module at two batch sizes: a table of what works and, where torch cannot, why (ONLY=resnet50
# vit_b_16 picks specs)
artefacts: $(STAMP)
	$(PYTHON) -m tests.artefacts_zoo $(ONLY)

bench: $(STAMP)
	$(PYTHON) -m pip install -q --no-deps torchinfo==1.8.0
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# the long hardening profiles (not part of make test), two processes at a time: 20,000 mutated
# and generated specs through check (guarded) and, on a sample of the accepted ones, source,
# ast, exec and build; the soundness property on 10,000 generated specs through compile (.py;
# .pt and .pt2 on samples), build and forward, with counts per outcome class; and the
# registry-wide shape property at 10,000 examples
fuzz: $(STAMP)
	@status=0; \
	ARCHC_FUZZ_BUDGET=2 $(PYTHON) -m tests.test_fuzz 10000 1 & first=$$!; \
	ARCHC_FUZZ_BUDGET=2 $(PYTHON) -m tests.test_fuzz 10000 2 || status=1; \
	wait $$first || status=1; \
	ARCHC_FUZZ_BUDGET=2 $(PYTHON) -m tests.test_soundness 5000 1 & first=$$!; \
	ARCHC_FUZZ_BUDGET=2 $(PYTHON) -m tests.test_soundness 5000 2 || status=1; \
	wait $$first || status=1; \
	ARCHC_PROPERTY_EXAMPLES=10000 $(PYTHON) -m pytest tests/ops/test_ops.py -q \
		-k test_any_arguments_give_archc_error_or_agree || status=1; \
	exit $$status

docs: $(STAMP)
	$(PYTHON) -m archc.docsgen .

# the LALR tables shipped as JSON (archc/frontend/grammar.json): after a change to grammar.lark
tables: $(STAMP)
	$(PYTHON) -m archc.frontend.maketables --write

clean:
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache
