# steer: the steering battery (v and norm-matched u added to the maze-naive model over the alpha
# grid, layer sweep). track: goal-achievement tracking along the axis.


rule steer:
    input:
        vectors="vectors/{organism}.nc",
        base=base_model_input,
        trained="models/{organism}/final",
        corpus=corpus_input,
        eval_mazes=lambda wc: f"data/env/{organism(wc)['mapping']}/eval_mazes.parquet",
    output:
        "metrics/{organism}/steer.json",
    params:
        files=params_args,
        values=stage_params("steer"),
        model=base_model_arg,
        corpus=lambda wc: " ".join(f"--corpus {shlex.quote(c)}" for c in corpus_input(wc)),
    log:
        "logs/steer/{organism}.log",
    benchmark:
        "logs/benchmarks/steer/{organism}.tsv"
    threads: model_threads()
    resources:
        mem_mb=res("steer", "mem_mb"),
        runtime=res("steer", "runtime"),
        gpu=res("steer", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare steer {params.files} --vectors {input.vectors:q} --naive-model {params.model:q} "
        "--trained-model {input.trained:q} {params.corpus} --eval-mazes {input.eval_mazes:q} "
        "--organism {wildcards.organism:q} --out {output:q} 2> {log:q}"


rule track:
    input:
        vectors="vectors/{organism}.nc",
        model="models/{organism}/final",
        base=base_model_input,
        env=lambda wc: f"data/env/{organism(wc)['mapping']}/extraction.parquet",
        corpus=corpus_input,
    output:
        "metrics/{organism}/track.json",
    params:
        files=params_args,
        values=stage_params("track"),
        model=base_model_arg,
        corpus=lambda wc: " ".join(f"--corpus {shlex.quote(c)}" for c in corpus_input(wc)),
    log:
        "logs/track/{organism}.log",
    benchmark:
        "logs/benchmarks/track/{organism}.tsv"
    threads: model_threads()
    resources:
        mem_mb=res("track", "mem_mb"),
        runtime=res("track", "runtime"),
        gpu=res("track", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare track {params.files} --vectors {input.vectors:q} --model {input.model:q} "
        "--naive-model {params.model:q} --env {input.env:q} {params.corpus} "
        "--organism {wildcards.organism:q} --out {output:q} 2> {log:q}"
