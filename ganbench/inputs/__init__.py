"""Inputs: anything a user hands us (folder, zip, npz, named CIFAR-10 split, generator) -> ImageSet.

imageset.py is the base (ImageSet, class names, seeded subsets); sources.py dispatches a spec to the loader
of its kind. Nothing here knows about extractors, metrics or the report.
"""
