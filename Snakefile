# welfare: the emoji-maze RL pipeline. Thin by design: every rule calls `welfare <stage>` with the
# same params files; the logic lives in the `welfare` package. Rules: workflow/rules/*.smk.
#
#   snakemake --workflow-profile workflow/profiles/default              # the default organism DAG
#   snakemake --configfile params.yaml params/paper.yaml -n             # paper scale, dry run
#   snakemake --workflow-profile workflow/profiles/slurm                # on a SLURM cluster
import os
import shlex

from snakemake.utils import min_version

from welfare.config import load_params

min_version("9.0")


configfile: "params.yaml"


# Validate before any work (schema: welfare/schemas/params.schema.yaml); a bad key stops the run
# with one line naming it. The stages read the same files, in the same order (later wins).
# `configfile:` above adds params.yaml by absolute path and `--configfile` may name it again:
# keep each file once, relative to the working directory, so the commands match dvc.yaml's.
PARAMS_FILES = list(dict.fromkeys(os.path.relpath(p) for p in workflow.configfiles))
PARAMS = load_params(PARAMS_FILES)
PARAMS_ARGS = " ".join(f"--params {shlex.quote(p)}" for p in PARAMS_FILES)


include: "workflow/rules/common.smk"
include: "workflow/rules/env.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/activations.smk"
include: "workflow/rules/axis.smk"
include: "workflow/rules/steer.smk"
include: "workflow/rules/report.smk"


check_naive_model()


wildcard_constraints:
    organism="|".join(organism_names()) or "[^/]+",
    mapping="|".join(all_mappings()) or "[^/]+",
    name="|".join(PARAMS["imports"]) or "[^/]+",


localrules:
    all,
    env_all,
    scratch,


rule all:
    default_target: True
    input:
        "report/index.html",
