# import_model: a real pretrained LM's GGUF file as a model directory (safetensors, config,
# tokenizer, manifest.json with the source's sha256). An organism row uses it as
# `base: models/imported/{name}` (params/smollm2.yaml). Nothing asks for it in the default run.


rule import_model:
    input:
        source=import_source,
    output:
        directory("models/imported/{name}"),
    params:
        files=params_args,
        values=stage_params("import_model"),
    log:
        "logs/import/{name}.log",
    benchmark:
        "logs/benchmarks/import/{name}.tsv"
    threads: 1
    resources:
        mem_mb=res("import_model", "mem_mb"),
        runtime=res("import_model", "runtime"),
        gpu=res("import_model", "gpu"),
    conda:
        "../envs/welfare.yaml"
    shell:
        "welfare import {params.files} --name {wildcards.name:q} --out {output:q} 2> {log:q}"
