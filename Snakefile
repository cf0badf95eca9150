# welfare: the emoji-maze RL pipeline. Thin by design: every rule calls `welfare <stage>` with the
# same params files; the logic lives in the `welfare` package. Rules: workflow/rules/*.smk.
from welfare.config import load_params

configfile: "params.yaml"

# Validate before any work; a bad key stops the run with one line naming it.
PARAMS_FILES = [str(p) for p in workflow.configfiles]
PARAMS = load_params(PARAMS_FILES)
PARAMS_ARGS = " ".join(f"--params {p}" for p in PARAMS_FILES)


include: "workflow/rules/common.smk"
include: "workflow/rules/env.smk"


rule all:
    input:
        rules.env_all.input,
