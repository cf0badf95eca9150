"""`welfare <stage>`: one thin subcommand per pipeline stage.

Each stage lives in its own module, which defines
``configure(parser: argparse.ArgumentParser) -> None`` and ``run(args, params) -> int``.
Modules are imported only when their subcommand runs, so `welfare --help` stays fast (no torch).
Every stage validates the params files before any work.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from welfare import __version__
from welfare.config import ParamsError, load_params
from welfare.io import InputError, one_line

# name -> (module, one-line help). Order is the DAG order.
STAGES: dict[str, tuple[str, str]] = {
    "validate": ("welfare.config_cli", "check params files against the schema (exit 0 if valid)"),
    "maze": ("welfare.maze.cli", "look at a maze: `welfare maze show --seed S`"),
    "env": ("welfare.env.cli", "extraction trajectories, eval mazes and SFT demos (Parquet)"),
    "corpus": ("welfare.corpus.cli", "generate the organism's pretraining corpus (JSONL)"),
    "tokenizer": ("welfare.corpus.tokenizer_cli", "train the organism's tokenizer on the corpus"),
    "pretrain": ("welfare.model.pretrain_cli", "pretrain the maze-naive organism"),
    "import": ("welfare.model.import_cli", "a real LM's GGUF file as a model directory"),
    "keep": ("welfare.model.keep_cli", "keep a pretrained organism (manifest) or check a kept one"),
    "train": ("welfare.rl.cli", "maze training: Dr. GRPO, REINFORCE or SFT; LoRA or full"),
    "activations": ("welfare.activations.cli", "record block outputs of a checkpoint to Zarr"),
    "axis": ("welfare.axis.cli", "reward concept vectors, layer choice and geometry"),
    "steer": ("welfare.steering.cli", "steering battery over the alpha grid"),
    "track": ("welfare.steering.track_cli", "goal-achievement tracking along the axis"),
    "report": ("welfare.report.cli", "HTML report with the paper's figures and tables"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="welfare",
        description="Emoji-maze RL and the functional welfare axis: one subcommand per stage.",
    )
    parser.add_argument("--version", action="version", version=f"welfare {__version__}")
    sub = parser.add_subparsers(dest="stage", metavar="<stage>")
    for name, (_module, help_text) in STAGES.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def _stage_parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    module_name, help_text = STAGES[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise SystemExit(
                f"welfare {name}: this stage is not implemented yet ({module_name})"
            ) from None
        raise
    parser = argparse.ArgumentParser(prog=f"welfare {name}", description=help_text)
    parser.add_argument(
        "--params",
        action="append",
        default=None,
        metavar="PATH",
        help="params file; repeat to overlay files (later wins). Default: params.yaml",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    module.configure(parser)
    return parser, module


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in STAGES:
        parser.parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    stage_parser, module = _stage_parser(name)
    args = stage_parser.parse_args(rest)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        # `welfare validate PATH ...` names its files positionally.
        params = load_params(getattr(args, "paths", None) or args.params)
    except ParamsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    offline(params)
    # Log lines go above the stage's progress bar instead of into the middle of it.
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():
            return int(module.run(args, params) or 0)
    except (InputError, OSError, UnicodeDecodeError) as exc:
        # Expected failures (bad or missing input, a model that cannot load): one line naming
        # the file; `-v` keeps the traceback.
        if args.verbose:
            raise
        print(f"error: welfare {name}: {_message(exc)}", file=sys.stderr)
        return 1


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {one_line(exc)}"
    return one_line(exc)


def offline(params: dict) -> None:
    """No downloads unless `allow_downloads: true` (then the environment decides): the HF
    libraries read these variables, and `load_model` passes `local_files_only` from them."""
    if not params["allow_downloads"]:
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            os.environ[name] = "1"


if __name__ == "__main__":
    raise SystemExit(main())
