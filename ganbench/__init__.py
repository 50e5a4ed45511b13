"""ganbench: one-pass GAN evaluation for CIFAR-10.

    inputs/ (anything -> ImageSet) -> extractors/ (one network pass, cached) -> metrics/ (registered pure
    functions) -> scoring.py (one record) -> results store -> report/ (site) and check.py (the gate)

cli/ is the composition root: the only module that imports the trainers, which depend on ganbench and
never the reverse.
"""

__version__ = "0.1.0"
