"""What the readers and task detection decided about an input, carried into its report."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Context:
    """What the readers and task detection decided, carried into the report."""

    task_reason: str = ""
    label_columns: tuple[str, ...] = ()
    pred_columns: tuple[str, ...] = ()
    weight_column: str | None = None
    sources: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()  # one per output (multi-label) or class (categorical)
    notes: tuple[str, ...] = ()
    # Text labels mapped to classes in sorted order (the mapping, as the notes give it): a
    # guess the report warns about.
    labels_sorted: str = ""
    # A partitioned input: (global row of its first row, file name) per partition, in order.
    partitions: tuple[tuple[int, str], ...] = ()
    id_columns: tuple[str, ...] = ()  # --id-col: carried into the worst rows (WorstSample.ids)

    def names(self, k: int) -> tuple[str, ...]:
        """The names of the ``k`` outputs or classes: the input's, else their indices."""
        return self.output_names or tuple(str(i) for i in range(k))
