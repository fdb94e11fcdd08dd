"""Text labels mapped to numbers: the same mapping in every chunk, errors that name the row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bcecli.errors import InputError
from bcecli.readers import Column, TextColumn, column_from_arrow
from bcecli.readers.batches import concat_columns
from bcecli.readers.labels import LabelMapper, _factorize_objects, _factorize_text


def texts(values: list[str | None]) -> TextColumn:
    return TextColumn(pa.array(values, type=pa.string()))


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


def test_text_columns_and_object_arrays_factorize_alike() -> None:
    column = texts(["b", None, "a", "", "b"])
    objects = np.array(["b", None, "a", "", "b"], dtype=object)
    for distinct, inverse in (_factorize_text(column), _factorize_objects(objects)):
        assert [distinct[i] for i in inverse] == ["b", "", "a", "", "b"]
    # an object array of text labels maps as a text column does
    mapper = LabelMapper((), source="f.csv")
    np.testing.assert_array_equal(mapper.map(objects, 0), [1.0, np.nan, 0.0, np.nan, 1.0])


@pytest.mark.parametrize("large", [False, True])
def test_arrow_text_columns_stay_arrow_text(large: bool) -> None:
    col = pa.array(["x", None, "y", "x"], type=pa.large_string() if large else pa.string())
    chunked = pa.chunked_array([col[:2], col[2:]])
    for arrow_values in (col, chunked):
        got = column_from_arrow(arrow_values)
        assert isinstance(got, TextColumn) and got.values.to_pylist() == ["x", None, "y", "x"]
        assert got[1:3].values.to_pylist() == [None, "y"] and len(got) == 4


def test_batches_join_text_pieces_and_pieces_read_as_numbers() -> None:
    joined = concat_columns([texts(["a", None]), texts(["b"])])
    assert isinstance(joined, TextColumn) and joined.values.to_pylist() == ["a", None, "b"]
    # a batch of empty cells reads as numbers (NaN): missing, as in a text batch
    parts: list[Column] = [texts(["yes", None]), np.array([np.nan, np.nan]), texts(["no"])]
    mixed = concat_columns(parts)
    mapper = LabelMapper((), source="f.csv")
    np.testing.assert_array_equal(mapper.map(mixed, 0), [1.0, np.nan, np.nan, np.nan, 0.0])


def test_boolean_arrow_columns_read_as_one_and_zero() -> None:
    values = [True, None, False, True, False, False, True, None, True, False]
    arr = pa.array(values, type=pa.bool_())
    want = {True: 1.0, False: 0.0, None: np.nan}
    # slices start inside a byte of the bitmaps; chunked columns join their pieces
    for col in (arr, arr.slice(3), arr.slice(1, 6), pa.chunked_array([arr[:5], arr[5:]])):
        got = column_from_arrow(col)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, [want[v] for v in col.to_pylist()])
    assert len(column_from_arrow(pa.array([], type=pa.bool_()))) == 0
    assert np.isnan(column_from_arrow(pa.nulls(3, type=pa.bool_()))).all()
