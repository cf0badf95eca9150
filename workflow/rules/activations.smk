# activations: block outputs of every layer on the extraction trajectories, for the trained
# organism (-> v vectors) and for its maze-naive base (-> the u control vectors).


rule activations_final:
    input:
        model="models/{organism}/final",
        env=lambda wc: f"data/env/{organism(wc)['mapping']}/extraction.parquet",
    output:
        directory("activations/{organism}/final.zarr"),
    params:
        files=params_args,
        values=stage_params("activations_final"),
        mapping=lambda wc: organism(wc)["mapping"],
    log:
        "logs/activations/{organism}/final.log",
    benchmark:
        "logs/benchmarks/activations/{organism}/final.tsv"
    threads: model_threads()
    resources:
        mem_mb=res("activations", "mem_mb"),
        runtime=res("activations", "runtime"),
        gpu=res("activations", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare activations {params.files} --model {input.model:q} "
        "--mapping {params.mapping:q} --env {input.env:q} --out {output:q} 2> {log:q}"


rule activations_naive:
    input:
        model=base_model_input,
        env=lambda wc: f"data/env/{organism(wc)['mapping']}/extraction.parquet",
    output:
        directory("activations/{organism}/naive.zarr"),
    params:
        files=params_args,
        values=stage_params("activations_naive"),
        mapping=lambda wc: organism(wc)["mapping"],
        model=base_model_arg,
    log:
        "logs/activations/{organism}/naive.log",
    benchmark:
        "logs/benchmarks/activations/{organism}/naive.tsv"
    threads: model_threads()
    resources:
        mem_mb=res("activations", "mem_mb"),
        runtime=res("activations", "runtime"),
        gpu=res("activations", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare activations {params.files} --model {params.model:q} "
        "--mapping {params.mapping:q} --env {input.env:q} --out {output:q} 2> {log:q}"
