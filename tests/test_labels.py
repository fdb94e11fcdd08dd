"""Text labels mapped to numbers: the same mapping in every chunk, errors that name the row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bcecli.errors import InputError
from bcecli.readers.labels import LabelMapper, _factorize
from bcecli.readers.sources import _arrow_to_numpy


def texts(values: list[object]) -> np.ndarray:
    return np.array(values, dtype=object)


def test_yes_no_with_missing_values() -> None:
    mapper = LabelMapper((), source="f.csv")
    got = mapper.map(texts(["yes", None, "no", "", "Yes "]), 0)
    np.testing.assert_array_equal(got, [1.0, np.nan, 0.0, np.nan, 1.0])
    assert mapper.description == "text labels mapped yes = 1, no = 0"


def test_unknown_words_in_sorted_order_like_label_encoder() -> None:
    mapper = LabelMapper((), source="f.csv")
    got = mapper.map(texts(["dog", "cat", "bird", "cat"]), 0)
    np.testing.assert_array_equal(got, [2.0, 1.0, 0.0, 1.0])
    # a later chunk keeps the first chunk's mapping, whatever order its labels come in
    np.testing.assert_array_equal(mapper.map(texts(["bird", "dog"]), 4), [0.0, 2.0])


def test_a_label_the_first_chunk_did_not_have_names_its_row() -> None:
    mapper = LabelMapper((), source="f.csv")
    mapper.map(texts(["yes", "no"]), 0)
    with pytest.raises(InputError, match=r"row 102, column lab: label 'maybe' was not among"):
        mapper.map(texts(["no", None, "maybe", "maybe"]), 100, column="lab")


@pytest.mark.parametrize(
    ("values", "row", "message"),
    [
        (["1", "0", "1", "yes", "0"], 3, "label 'yes' is text, the other labels are numbers"),
        (["no", "1", "yes", "no", "yes"], 1, "label '1' is a number, the other labels are text"),
    ],
)
def test_numbers_and_words_in_one_column_name_the_rarer_kind(
    values: list[object], row: int, message: str
) -> None:
    with pytest.raises(InputError, match=f"row {10 + row}: {message}"):
        LabelMapper((), source="f.csv").map(texts(values), 10)


def test_arrow_and_numpy_factorize_alike() -> None:
    # arrow reads text only; an array it refuses (a number among the strings) is sorted by numpy
    values = texts(["b", None, "a", "", "b"])
    mixed = texts(["b", None, "a", "", 7])
    for got, expected in [(values, ["b", "", "a", "", "b"]), (mixed, ["b", "", "a", "", "7"])]:
        distinct, inverse = _factorize(got)
        assert [distinct[i] for i in inverse] == expected


@pytest.mark.parametrize("large", [False, True])
def test_arrow_text_columns_read_as_object_arrays(large: bool) -> None:
    col = pa.array(["x", None, "y", "x"], type=pa.large_string() if large else pa.string())
    chunked = pa.chunked_array([col[:2], col[2:]])
    for arrow_values in (col, chunked):
        got = _arrow_to_numpy(arrow_values)
        assert got.dtype == object and got.tolist() == ["x", None, "y", "x"]
