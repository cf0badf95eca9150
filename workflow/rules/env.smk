# env: extraction trajectories, held-out eval mazes and SFT demonstrations per tile mapping.


rule env:
    output:
        extraction="data/env/{mapping}/extraction.parquet",
        eval_mazes="data/env/{mapping}/eval_mazes.parquet",
        sft="data/env/{mapping}/sft.parquet",
        balance="metrics/env/{mapping}/class_balance.json",
    params:
        files=PARAMS_ARGS,
    log:
        "logs/env/{mapping}.log",
    benchmark:
        "benchmarks/env/{mapping}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "welfare env {params.files} --mapping {wildcards.mapping} --out data/env/{wildcards.mapping} "
        "--metrics {output.balance} 2> {log}"


rule env_all:
    input:
        expand("data/env/{mapping}/extraction.parquet", mapping=used_mappings()),
