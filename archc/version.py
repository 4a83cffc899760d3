"""archc's version, said once: pyproject.toml reads it from here (setuptools' dynamic version),
and so do `archc --version`, `archc.__version__` and the artefacts' metadata."""

VERSION = "0.1.0"
