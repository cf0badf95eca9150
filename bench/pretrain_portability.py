"""Compare a scratch pretraining of seed 0 on another machine with the kept reference organism.

    python3 bench/pretrain_portability.py --work DIR --kept organisms/reference \
        --out pretrain_portability.json [--rc N] [--budget-s S] [--threads T] [--cpus LIST]

DIR is what bench/device_pretrain.sh wrote: corpus/, tokenizer/, pretrain.log and, when the run
finished, naive/ and metrics/. The reading probe (every 250 steps) is read from the log, so a run
stopped at its step budget still compares the rows it reached: the first step whose probe row
differs from the kept organism's `reading_probe.tsv` (each value as that table prints it, %.6g)
is the portability number. A finished run also compares the weights' sha256 and acceptance.
Standard library only (runs with the device's python3 and no venv).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
from pathlib import Path

PROBE = re.compile(r"reading probe at step (\d+) \(try (\d+)\): (\{.*?\})")
VALUE = re.compile(r"'(\w+)': (?:np\.float\d+\()?([-+0-9.eE]+|nan)\)?")
COLUMNS = ("what2", "where2", "what", "where", "judgment", "neighbours")
BARS = ("spatial_reading", "neighbour_probe", "confidence_auroc", "tile_indifference")


def sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def log_probes(log: Path) -> list[dict[str, str]]:
    """Probe rows of a pretraining log, values formatted as reading_probe.tsv prints them."""
    rows = []
    for match in PROBE.finditer(log.read_text(errors="replace") if log.is_file() else ""):
        step, attempt, body = match.groups()
        values = {k: f"{float(v):.6g}" for k, v in VALUE.findall(body)}
        rows.append({"try": attempt, "step": step, **values})
    return rows


def kept_probes(kept: Path) -> list[dict[str, str]]:
    with open(kept / "reading_probe.tsv", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def compare_probes(ours: list[dict], kept: list[dict]) -> tuple[list[dict], int | None]:
    """Row-by-row comparison on (try, step); the first step that differs (None: none did)."""
    by_key = {(r["try"], r["step"]): r for r in kept}
    rows, first = [], None
    for row in ours:
        ref = by_key.get((row["try"], row["step"]))
        diffs = {
            c: [row.get(c), ref.get(c) if ref else None]
            for c in COLUMNS
            if c in row and (ref is None or row[c] != ref.get(c))
        }
        rows.append({"try": int(row["try"]), "step": int(row["step"]), "differs": diffs})
        if diffs and first is None:
            first = int(row["step"])
    return rows, first


def vocab_equal(a: Path, b: Path) -> bool | None:
    """Same BPE vocabulary and merges (the files' formatting may differ between versions)."""
    if not (a.is_file() and b.is_file()):
        return None
    model_a, model_b = (json.loads(p.read_text())["model"] for p in (a, b))
    return model_a.get("vocab") == model_b.get("vocab") and model_a.get("merges") == model_b.get(
        "merges"
    )


def acceptance(metrics: Path, kept: Path) -> dict | None:
    ours = metrics / "acceptance.json"
    if not ours.is_file():
        return None
    a, b = (json.loads(p.read_text())["checks"] for p in (ours, kept / "acceptance.json"))
    values = {bar: [a[bar]["value"], b[bar]["value"]] for bar in a}
    return {
        "passed": json.loads(ours.read_text())["passed"],
        "values": values,
        "same_4_digits": {
            bar: round(x, 4) == round(y, 4) for bar, (x, y) in values.items() if bar in BARS
        },
    }


def software() -> dict[str, str]:
    out = {"python": platform.python_version(), "machine": platform.machine()}
    for name in ("torch", "transformers", "tokenizers", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = "missing"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = re.findall(r"^model name\s*:\s*(.*)$", cpuinfo.read_text(), re.M)
        out["cpu"] = names[0] if names else "unknown"
    out["cores"] = str(os.cpu_count())
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--kept", type=Path, default=Path("organisms/reference"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rc", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=0)
    parser.add_argument("--threads", default="")
    parser.add_argument("--cpus", default="")
    args = parser.parse_args()
    work, kept = args.work, args.kept
    manifest = json.loads((kept / "manifest.json").read_text())
    probes, first = compare_probes(log_probes(work / "pretrain.log"), kept_probes(kept))
    weights = sha256(work / "naive/model.safetensors")
    corpus = {name: sha256(work / "corpus" / name) for name in manifest.get("corpus", {})}
    steps = [int(m) for m in re.findall(r"\| (\d+)/\d+ \[", _tail(work / "pretrain.log"))]
    result = {
        "software": software(),
        "threads": args.threads,
        "cpus": args.cpus,
        "budget_s": args.budget_s,
        "rc": args.rc,
        "completed": weights is not None,
        "steps_reached": max(steps) if steps else None,
        "corpus_same": {k: v == manifest["corpus"][k] for k, v in corpus.items()},
        "tokenizer_same_vocab": vocab_equal(
            work / "tokenizer/tokenizer.json", kept / "tokenizer.json"
        ),
        "probe_rows_compared": len(probes),
        "first_divergence_step": first,
        "probes": probes,
        "weights_sha256": weights,
        "weights_same": None
        if weights is None
        else weights == manifest["files"]["model.safetensors"],
        "acceptance": acceptance(work / "metrics", kept),
        "kept": {"commit": manifest["commit"], "software": manifest["software"]},
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "completed",
                    "steps_reached",
                    "probe_rows_compared",
                    "first_divergence_step",
                    "weights_same",
                )
            }
        )
    )


def _tail(path: Path, size: int = 4096) -> str:
    if not path.is_file():
        return ""
    data = path.read_bytes()
    return data[-size:].decode(errors="replace")


if __name__ == "__main__":
    main()
