"""The pieces of benchmarks/gpu_check.py: plan (sizes, context, commands), jobs (processes under deadlines,
the stage record), weights (the float16 copy), and one module per group of stages."""
