# Shared helpers for the rules: which mappings and organisms the params ask for, which params
# sections each stage reads, and the portable resources of each stage.
#
# This file is plain Python (no rule), so tests/workflow/test_dvc_sync.py can execute it to read
# STAGE_PARAMS, the table that both the rules (as their `params:` rerun trigger) and dvc.yaml
# (as each stage's `params:`) must follow.

import json
from pathlib import Path

from welfare.model.kept import METRICS_FILES, SCRATCH
from welfare.model.organism import is_organism_dir

# The params keys each stage reads. `{organism}`/`{mapping}` are the rule's wildcards (an
# organism's `{mapping}` is its row's). Each job puts their values in its params, so Snakemake
# reruns exactly the jobs whose params changed, as `dvc repro` / `dvc exp run -S` do; dvc.yaml
# lists the same keys (tests/workflow/test_dvc_sync.py keeps them in sync).
STAGE_PARAMS = {
    "env": ["maze", "env", "mappings.{mapping}"],
    "import_model": ["imports.{name}"],
    "corpus": ["corpus", "maze", "mappings"],
    "tokenizer": ["tokenizer", "mappings", "maze.apostrophe"],  # tile symbols, clause tokens
    "pretrain": ["runtime", "maze", "pretrain"],
    "train": ["runtime", "maze", "env", "train", "mappings.{mapping}", "organisms.{organism}"],
    "activations_final": [
        "runtime", "maze", "activations", "mappings.{mapping}", "organisms.{organism}"
    ],
    "activations_naive": [
        "runtime", "maze", "activations", "mappings.{mapping}", "organisms.{organism}"
    ],
    "axis": ["runtime", "activations", "axis"],
    "steer": ["runtime", "maze", "steer", "mappings.{mapping}", "organisms.{organism}"],
    "track": [
        "runtime", "maze", "steer", "track", "mappings.{mapping}", "organisms.{organism}"
    ],
    "report": ["report"],
}


def stage_param_keys(stage, wildcards):
    """STAGE_PARAMS[stage] with the job's wildcards (a dict) filled in."""
    values = dict(wildcards)
    if "organism" in values:
        values.setdefault("mapping", PARAMS["organisms"][values["organism"]]["mapping"])
    return [key.format(**values) for key in STAGE_PARAMS[stage]]


def organism_names():
    return list(PARAMS["organisms"])


def all_mappings():
    # dvc.yaml's env stage iterates over every named mapping (DVC cannot compute which ones the
    # organisms use); `snakemake env_all` builds the same set. `rule all` needs only the used ones.
    return list(PARAMS["mappings"])


def used_mappings():
    return sorted({row["mapping"] for row in PARAMS["organisms"].values()})


def organism(wildcards):
    return PARAMS["organisms"][wildcards.organism]


def _lookup(key):
    value = PARAMS
    for part in key.split("."):
        value = value[part]
    return value


def stage_params(stage):
    """A rule's params trigger: the values of the keys STAGE_PARAMS names for `stage`."""

    def values(wildcards):
        keys = stage_param_keys(stage, dict(wildcards.items()))
        return json.dumps({key: _lookup(key) for key in keys}, sort_keys=True, ensure_ascii=False)

    return values


def params_args(wildcards, input):
    """`--params FILE ...`, the `files=` param of every job. The list of files is no rerun
    trigger, the values a stage reads are (`values=stage_params(...)`). Snakemake leaves a param
    computed from the job's `input` out of its params trigger, so adding an overlay reruns only
    the jobs whose values it changes (docs/workflow.md, "What reruns")."""
    return PARAMS_ARGS


IMPORTED = "models/imported/"


def naive_model():
    """`params.naive`: the kept reference organism (a tracked directory, an input with its hash)
    or models/naive, the pretrain rule's output (pretraining from scratch in this run)."""
    return PARAMS["naive"]


def naive_model_files():
    """The maze-naive organism as job inputs: the pretrain rule's output directory, or every file
    of the kept organism (Snakemake compares file times, and a directory's own time does not
    change when a file in it is rewritten in place; DVC hashes the directory, dvc.yaml)."""
    path = naive_model()
    if path == SCRATCH:
        return [SCRATCH]
    return sorted(str(p) for p in Path(path).iterdir() if p.is_file())


def check_naive_model():
    """A kept organism must exist before any job runs (one line naming the key)."""
    path = naive_model()
    uses = any(row["base"] == "naive" for row in PARAMS["organisms"].values())
    if uses and path != SCRATCH and not is_organism_dir(path):
        raise ValueError(
            f"params: naive: {path!r} is not an organism directory (no organism.json); "
            f"name a kept organism, or {SCRATCH} to pretrain one"
        )


def base_model_input(wildcards):
    """The base model a job needs as a file input: the maze-naive organism (params.naive: the
    kept one or the pretrain rule's output), an imported real LM (`models/imported/{name}`, rule
    import_model), or nothing for an HF directory / hub id given in the organism row (read by
    the CLI, outside the DAG)."""
    base = organism(wildcards)["base"]
    if base == "naive":
        return naive_model_files()
    return [base.rstrip("/")] if base.startswith(IMPORTED) else []


def import_source(wildcards):
    """The GGUF file an import reads (a path, or the file inside an installed wheel)."""
    from welfare.model.gguf_import import resolve_source

    return str(resolve_source(PARAMS["imports"][wildcards.name]["source"]).path)


def organism_scale(wildcards):
    """Whether the row's base is one of this pipeline's organisms: `naive`, or a directory that
    `welfare pretrain` wrote (a kept organism, e.g. bench/artifacts/reading-organism). Its jobs
    evaluate on the corpus; any other base is an HF model at paper scale."""
    base = organism(wildcards)["base"]
    return base == "naive" or is_organism_dir(base)


def corpus_input(wildcards):
    """The organism-scale evaluation prompts (held-out corpus) for a steering job; at paper scale
    (an HF base model) the battery reads the paper's datasets named in params instead."""
    return ["data/corpus/heldout.jsonl"] if organism_scale(wildcards) else []


def corpus_files(wildcards):
    """The organism's corpus (emotion and sentiment texts for the axis geometry), when the base
    model is one of the pipeline's own organisms."""
    if not organism_scale(wildcards):
        return []
    return ["data/corpus/train.jsonl", "data/corpus/heldout.jsonl"]


def base_model_arg(wildcards):
    base = organism(wildcards)["base"]
    return naive_model() if base == "naive" else base


def uses_gpu():
    return PARAMS["runtime"]["device"] == "cuda"


# Portable resources per stage: (organism scale on CPU, paper scale on a GPU node). mem_mb is host
# memory, runtime is minutes; gpu is a count. Site specifics (partition, gres) live in profiles.
_RESOURCES = {
    "env": ({"mem_mb": 2000, "runtime": 20}, {"mem_mb": 8000, "runtime": 120}),
    "import_model": ({"mem_mb": 8000, "runtime": 20}, {"mem_mb": 64000, "runtime": 60}),
    "corpus": ({"mem_mb": 1000, "runtime": 10}, {"mem_mb": 4000, "runtime": 30}),
    "tokenizer": ({"mem_mb": 2000, "runtime": 10}, {"mem_mb": 4000, "runtime": 30}),
    "pretrain": ({"mem_mb": 4000, "runtime": 90}, {"mem_mb": 32000, "runtime": 600}),  # 3 tries: 8,000 steps
    "train": ({"mem_mb": 4000, "runtime": 60}, {"mem_mb": 64000, "runtime": 4320}),
    "activations": ({"mem_mb": 4000, "runtime": 30}, {"mem_mb": 64000, "runtime": 720}),
    "axis": ({"mem_mb": 4000, "runtime": 20}, {"mem_mb": 64000, "runtime": 240}),
    "steer": ({"mem_mb": 4000, "runtime": 30}, {"mem_mb": 64000, "runtime": 2880}),
    "track": ({"mem_mb": 4000, "runtime": 30}, {"mem_mb": 64000, "runtime": 720}),
    "report": ({"mem_mb": 2000, "runtime": 10}, {"mem_mb": 8000, "runtime": 30}),
}
# Stages that run a model; on a GPU they ask for one.
_MODEL_STAGES = {"pretrain", "train", "activations", "steer", "track"}


def res(stage, key):
    cpu, gpu = _RESOURCES[stage]
    if key == "gpu":
        return 1 if uses_gpu() and stage in _MODEL_STAGES else 0
    return (gpu if uses_gpu() else cpu)[key]


def model_threads():
    # On a GPU node a few cores feed the device. On a CPU the organism's jobs (RL rollouts, recording,
    # steering of a 225 k-parameter model) are latency-bound: a second thread cut a train job from
    # ~90 to 79 s (bench/workflow.md), so one thread each lets `--cores 2` run two organisms' jobs
    # side by side, which the organism table needs to fit the default run's 15 minutes.
    return 4 if uses_gpu() else 1


def pretrain_threads():
    # Pretraining's larger batches do use a second core (6 steps/s at 2 threads).
    return 4 if uses_gpu() else 2


def report_inputs(wildcards):
    """Everything the report reads: the metrics of every stage for every organism."""
    files = [f"metrics/env/{m}/class_balance.json" for m in used_mappings()]
    if any(row["base"] == "naive" for row in PARAMS["organisms"].values()):
        # The organism's pretraining metrics: this run's, or those kept with the organism.
        files += naive_model_files()
        if naive_model() == SCRATCH:
            files += [f"metrics/naive/{name}" for name in METRICS_FILES]
    for name in organism_names():
        files += [
            f"metrics/{name}/train.tsv",
            f"metrics/{name}/eval.tsv",
            f"metrics/{name}/eval.json",
            f"metrics/{name}/axis.json",
            f"metrics/{name}/steer.json",
            f"metrics/{name}/track.json",
        ]
    return files
