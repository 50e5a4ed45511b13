"""labels.csv: the labels of a flat folder of generated images, one `file,label` line per image.

Optional header `file,label`; a label is an integer 0-9 or a CIFAR-10 class name (any case); file names are
relative to the folder (posix or Windows separators, an optional leading ./). Every image needs exactly one
line and every line an existing image: a partial or stale file is an error, since guessing would mislabel
samples and every class-aware number after it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from ganbench.errors import UserError
from ganbench.inputs.decode import reason
from ganbench.inputs.imageset import CIFAR10_CLASSES, class_index


def parse_label(text: str) -> int | None:
    """An integer 0-9 or a CIFAR-10 class name (any case) -> 0..9; None for anything else."""
    text = text.strip()
    if text.isdigit():
        return int(text) if int(text) <= 9 else None
    return class_index(text)


def read_labels_csv(csv_path: str, images: Sequence[str], where: str) -> list[int]:
    """The label of each of `images` (relative posix paths) from csv_path; UserError naming the line/file."""
    try:
        with open(csv_path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(f"cannot read {csv_path} ({reason(e)}); fix or remove it") from e
    return parse_labels_csv(data, csv_path, images, where)


def parse_labels_csv(data: bytes, csv_path: str, images: Sequence[str], where: str) -> list[int]:
    """read_labels_csv on the file's bytes (a folder's file or a zip member); csv_path names it in errors."""
    fix = f"fix {csv_path} (lines: file,label with label 0-9 or a CIFAR-10 class name)"
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"cannot read {csv_path} ({reason(e)}); {fix}") from e
    found: dict[str, int] = {}
    for line, row in enumerate(rows, 1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise UserError(f"{csv_path} line {line} has {len(row)} fields, expected 2; {fix}")
        name, text = row[0].strip().replace("\\", "/").removeprefix("./"), row[1]
        label = parse_label(text)
        if label is None:
            if line == 1 and text.strip().lower() == "label":
                continue  # header
            raise UserError(
                f"{csv_path} line {line}: label {text.strip()!r} is neither 0-9 nor a CIFAR-10 class "
                f"({', '.join(CIFAR10_CLASSES)}); {fix}"
            )
        if found.setdefault(name, label) != label:
            raise UserError(f"{csv_path} gives {name} two labels ({found[name]} and {label}); {fix}")
    known = set(images)
    stale = [name for name in found if name not in known]
    if stale:
        raise UserError(
            f"{csv_path} names {len(stale)} file(s) that are not images in {where} (e.g. {stale[0]}); {fix}"
        )
    unlabelled = [name for name in images if name not in found]
    if unlabelled:
        raise UserError(
            f"{len(unlabelled)} image(s) in {where} have no line in labels.csv (e.g. {unlabelled[0]}); {fix}"
        )
    return [found[name] for name in images]
