"""`mie generate`: bundle the dictionaries into the spec, then generate pydantic models into generated/.

`--check` changes nothing and fails when spec/openapi.yaml disagrees with spec/dictionaries/ or when
generated/ is not what the spec generates now (any edit of the spec changes its digest, kept in
generated/__init__.py, so no edit goes unnoticed).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from mie.contract.dictionaries import bundle, read_dictionaries
from mie.contract.spec import REPO_ROOT, load_yaml

MODELS_FILE = "models.py"
# How the models are generated: given on the command line, so that `mie generate` writes the same models wherever
# it runs (not only where a pyproject.toml configures the generator).
GENERATOR_OPTIONS = (
    *("--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel", "--target-python-version", "3.11"),
    *("--use-annotated", "--snake-case-field", "--allow-population-by-field-name"),
    *("--use-schema-description", "--use-field-description", "--collapse-root-models", "--use-double-quotes"),
    *("--disable-timestamp", "--use-standard-collections", "--use-union-operator", "--enum-field-as-literal", "none"),
    # format: byte (§2.8 fileContent, a DICOM file) is base64 of binary data: Base64Bytes decodes it to bytes; the
    # default Base64Str would decode it again as UTF-8 text and refuse every real file
    *("--type-mappings", "string+byte=binary", "--formatters", "black"),
)


class _SpecDumper(yaml.SafeDumper):
    """Block style, insertion order, real Chinese, long lines kept whole: a stable, diffable file."""


# Plain scalars a YAML 1.2 loader (the core schema of js-yaml, Prism, Spectral, ...) reads as a number or boolean
# while PyYAML's YAML 1.1 resolver leaves them text, so PyYAML would not quote them: hosp_lv's "08" and "09" came
# out bare, a string to mie and the integer 8 to every JavaScript tool.
_YAML12_NOT_TEXT = re.compile(
    r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
)


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else ("'" if _YAML12_NOT_TEXT.fullmatch(data) else None)
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_SpecDumper.add_representer(str, _str_presenter)


def dump_spec(spec: dict[str, Any]) -> str:
    return yaml.dump(spec, Dumper=_SpecDumper, allow_unicode=True, sort_keys=False, width=4096)


def bundled_spec_text(root: Path = REPO_ROOT) -> str:
    """The spec file as bundling its dictionaries would write it."""
    spec_dir = root / "spec"
    return dump_spec(bundle(load_yaml(spec_dir / "openapi.yaml"), read_dictionaries(spec_dir / "dictionaries")))


def _init_text(spec_text: str) -> str:
    digest = hashlib.sha256(spec_text.encode("utf-8")).hexdigest()
    return f'"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""\n\nSPEC_SHA256 = "{digest}"\n'


def _models_text(spec_text: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "openapi.yaml"
        spec_file.write_text(spec_text, encoding="utf-8")
        output = Path(tmp) / MODELS_FILE
        # Run in the temporary directory: no pyproject.toml of the working directory changes the options.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "datamodel_code_generator",
                *GENERATOR_OPTIONS,
                "--input",
                str(spec_file),
                "--output",
                str(output),
                "--custom-file-header",
                '"""Generated from spec/openapi.yaml by `mie generate`: never edit by hand."""',
            ],
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        )
        return output.read_text(encoding="utf-8")


def expected_files(root: Path = REPO_ROOT) -> dict[Path, str]:
    """What `mie generate` writes in a checkout at `root` (a directory holding spec/ and generated/)."""
    spec_text = bundled_spec_text(root)
    return {
        root / "spec" / "openapi.yaml": spec_text,
        root / "generated" / "__init__.py": _init_text(spec_text),
        root / "generated" / MODELS_FILE: _models_text(spec_text),
    }


def generate(check: bool = False, root: Path = REPO_ROOT) -> list[str]:
    """Write (or, with check, compare) the bundled spec and generated/. Returns the stale files' diffs."""
    stale: list[str] = []
    for path, text in expected_files(root).items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        relative = path.relative_to(root)
        diff = difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{relative} (on disk)",
            tofile=f"{relative} (generated)",
            n=1,
        )
        stale.append("".join(list(diff)[:40]))
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale
