"""The printed summary of a record: the metric table (from the metric registry) and the per-class lines."""

from __future__ import annotations

from ganbench.metrics import registry


def metric_rows(record: dict) -> list[tuple[str, str]]:
    """(name, value or 'n/a — reason') for the table print."""
    m, un = record["metrics"], record["unavailable"]

    def cell(row: registry.Row) -> str:
        v = m.get(row.key)
        if v is None:
            return f"n/a — {un.get(row.key, 'not measured')}"
        std = m.get(row.std_key) if row.std_key else None
        return format(v, row.fmt) + ("" if std is None else f" ± {format(std, row.fmt)}")

    rows = [(r.label, cell(r)) for r in registry.table_rows(computed_here=True)]
    if "classwise" in record:
        rows.append(("", ""))
        rows += [(r.label, cell(r)) for r in registry.table_rows(computed_here=False)]
    return rows


def class_table(record: dict) -> list[str]:
    """Per-class lines for the printed summary ("-" where a value is unavailable)."""
    section = record.get("classwise")
    if not section or not section.get("per_class"):
        return []
    cols = [("n", "d"), ("predicted", "d"), ("precision", ".3f"), ("recall", ".3f"), ("f1", ".3f"),
            ("fid", ".1f"), ("diversity_ratio", ".3f"), ("near_duplicate_rate", ".3f"),
            ("memorisation_rate", ".3f"), ("coverage", ".3f"), ("flag", "s")]  # fmt: skip
    heads = ["class", "n", "pred", "prec", "recall", "f1", "FID", "div", "dup", "mem", "cov", "flag"]
    lines = [" ".join(f"{h:>10}" for h in heads)]
    for row in section["per_class"]:
        cells = [row["class"]] + ["-" if row.get(k) is None else format(row[k], spec) for k, spec in cols]
        lines.append(" ".join(f"{cell:>10}" for cell in cells))
    return lines
