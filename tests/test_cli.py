"""The `welfare` command: stage registry, help, dispatch."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from welfare.cli import STAGES, build_parser, main


def test_help_lists_every_stage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in STAGES:
        assert name in out


def test_no_arguments_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "<stage>" in capsys.readouterr().out


def test_unknown_stage_fails() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["nonsense"])
    assert exc.value.code != 0


@pytest.mark.parametrize("name", ["validate", "maze", "env"])
def test_implemented_stage_modules_define_configure_and_run(name: str) -> None:
    module = importlib.import_module(STAGES[name][0])
    assert callable(module.configure) and callable(module.run)


def test_python_dash_m_and_help_do_not_import_torch() -> None:
    code = (
        "import sys; from welfare.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'welfare --help imported torch'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "welfare", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("welfare ")
