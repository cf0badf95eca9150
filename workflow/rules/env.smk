# env: extraction trajectories, held-out eval mazes and SFT demonstrations per tile mapping.


rule env:
    output:
        extraction="data/env/{mapping}/extraction.parquet",
        eval_mazes="data/env/{mapping}/eval_mazes.parquet",
        sft="data/env/{mapping}/sft.parquet",
        balance="metrics/env/{mapping}/class_balance.json",
    params:
        files=params_args,
        values=stage_params("env"),
    log:
        "logs/env/{mapping}.log",
    benchmark:
        "logs/benchmarks/env/{mapping}.tsv"
    threads: 1
    resources:
        mem_mb=res("env", "mem_mb"),
        runtime=res("env", "runtime"),
        gpu=res("env", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare env {params.files} --mapping {wildcards.mapping:q} --out data/env/{wildcards.mapping:q} "
        "--metrics {output.balance:q} 2> {log:q}"


# Every named mapping, as `dvc repro` builds them (rule all builds only the organisms' mappings).
rule env_all:
    input:
        expand("metrics/env/{mapping}/class_balance.json", mapping=all_mappings()),
