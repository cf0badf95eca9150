# axis: v (trained) and u (maze-naive control) reward concept vectors per layer, the layer
# choice and the geometry (cosines, tile means, logit lens, emotion alignment).


rule axis:
    input:
        trained="activations/{organism}/final.zarr",
        naive="activations/{organism}/naive.zarr",
        model="models/{organism}/final",
        base=base_model_input,
        corpus=corpus_files,
    output:
        vectors="vectors/{organism}.nc",
        summary="metrics/{organism}/axis.json",
    params:
        files=params_args,
        values=stage_params("axis"),
        model=base_model_arg,
        corpus=lambda wc: "--corpus data/corpus" if corpus_files(wc) else "",
    log:
        "logs/axis/{organism}.log",
    benchmark:
        "logs/benchmarks/axis/{organism}.tsv"
    threads: 1
    resources:
        mem_mb=res("axis", "mem_mb"),
        runtime=res("axis", "runtime"),
        gpu=res("axis", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare axis {params.files} --trained {input.trained:q} --naive {input.naive:q} "
        "--model {input.model:q} --naive-model {params.model:q} {params.corpus} "
        "--out {output.vectors:q} --metrics {output.summary:q} 2> {log:q}"
