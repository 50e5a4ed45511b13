"""Feature networks (FID Inception, surrogate classifier), their runners and the resize policies.

Only the modules that run a network import torch, and only when it runs: a fully cached score needs none.
"""

# The resize policies (ganbench.extractors.resize implements them): here so that the CLI's options and the
# extractor's checks need no torch import.
RESIZE_POLICIES = ("legacy-tf", "clean", "torch-bilinear", "pil-bilinear")
