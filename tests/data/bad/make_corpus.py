"""Write the malformed-input corpus: small files, each with a ``<name>.expect.json`` sidecar.

Run from anywhere: ``python tests/data/bad/make_corpus.py``. The files are committed; this
script documents how each was made and rebuilds them identically.

A sidecar holds:

- ``description``: what the file is and what bce should do with it;
- ``args``: extra arguments after ``bce score <name>`` (may name other files of this folder);
- ``exit``: the allowed exit codes (0/1 a report, 2 usage error, 3 cannot be scored);
- ``stderr_contains``: substrings of the one ``Error: `` line (for exit 2 and 3);
- ``flag``: a flag id the JSON report must hold (for exit 0 and 1);
- ``json``: top-level JSON values the report must have (``inputs.label_columns`` reaches in);
- ``notes_contain``: substrings that must appear among the report's notes;
- ``stdin``: feed the file on stdin and pass ``-`` instead of its name;
- ``known_issue``: the behaviour breaks the contract because of code outside the readers;
  the test is an expected failure until that is fixed.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent

GOOD = "y_true,y_pred\n1,0.9\n0,0.2\n1,0.7\n0,0.4\n"


def expect(
    name: str,
    description: str,
    exit: list[int],
    stderr: list[str] | None = None,
    *,
    args: list[str] | None = None,
    flag: str | None = None,
    json_values: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    stdin: bool = False,
    known_issue: str | None = None,
) -> None:
    spec: dict[str, Any] = {
        "description": description,
        "args": args or [],
        "exit": exit,
        "stderr_contains": stderr or [],
    }
    if flag:
        spec["flag"] = flag
    if json_values:
        spec["json"] = json_values
    if notes:
        spec["notes_contain"] = notes
    if stdin:
        spec["stdin"] = True
    if known_issue:
        spec["known_issue"] = known_issue
    (HERE / f"{name}.expect.json").write_text(json.dumps(spec, indent=2) + "\n")


def write(name: str, data: str | bytes) -> None:
    raw = data.encode() if isinstance(data, str) else data
    (HERE / name).write_bytes(raw)


def text(name: str, data: str | bytes, description: str, exit: list[int], **kw: Any) -> None:
    write(name, data)
    stderr = kw.pop("stderr", None)
    if exit[0] >= 2 and stderr is None:
        stderr = [name]
    elif stderr is not None and exit[0] >= 2 and not kw.get("stdin"):
        stderr = [name, *stderr]
    expect(name, description, exit, stderr, **kw)


def npy(name: str, arr: Any, description: str, exit: list[int], **kw: Any) -> None:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    write(name, buf.getvalue())
    stderr = kw.pop("stderr", [])
    expect(name, description, exit, [name, *stderr] if exit[0] >= 2 else None, **kw)


def npz(name: str, arrays: dict[str, Any], description: str, exit: list[int], **kw: Any) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays, allow_pickle=True)  # type: ignore[arg-type]
    write(name, buf.getvalue())
    stderr = kw.pop("stderr", [])
    expect(name, description, exit, [name, *stderr] if exit[0] >= 2 else None, **kw)


def parquet(name: str, table: pa.Table, description: str, exit: list[int], **kw: Any) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    write(name, buf.getvalue())
    stderr = kw.pop("stderr", [])
    expect(name, description, exit, [name, *stderr] if exit[0] >= 2 else None, **kw)


def zipped(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive of ``members``, the same bytes on every run (a fixed time stamp)."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w") as zf:
        warnings.simplefilter("ignore")  # a duplicate name, on purpose
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            zf.writestr(info, data)
    return buf.getvalue()


def patched_zip(data: bytes, *, method: int | None = None, encrypted: bool = False) -> bytes:
    """``data`` with every entry's compression method (and encryption bit) rewritten in its
    local header and in the central directory, as another zip tool would have written them."""
    out = bytearray(data)
    for magic, flags, meth in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = out.find(magic)
        while at >= 0:
            if encrypted:
                out[at + flags] |= 1
            if method is not None:
                out[at + meth : at + meth + 2] = method.to_bytes(2, "little")
            at = out.find(magic, at + 4)
    return bytes(out)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def clean() -> None:
    for p in HERE.iterdir():
        if p.name in ("make_corpus.py", "README.md") or p.name.startswith("."):
            continue
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def csv_cases() -> None:
    # --- empty and header-only ------------------------------------------------------------
    text("empty.csv", "", "a 0-byte file", [3], stderr=["is empty"])
    text("blank_lines_only.csv", "\n\n   \n\n", "only blank lines", [3], stderr=["is empty"])
    text(
        "header_only.csv",
        "y_true,y_pred\n",
        "a header and no rows",
        [3],
        stderr=["header but no data rows"],
    )
    text(
        "header_and_blank_line.csv",
        "y_true,y_pred\n\n",
        "a header and one blank line",
        [3],
        stderr=["header but no data rows"],
    )
    text(
        "comments_only.csv",
        "# nothing here\n# yet\n",
        "only '#' comment lines",
        [3],
        stderr=["no header and no data"],
    )

    # --- headers --------------------------------------------------------------------------
    text(
        "no_header_two_columns.csv",
        "1,0.9\n0,0.2\n1,0.7\n0,0.4\n",
        "no header, two numeric columns: label then prediction by position, with a note",
        [0],
        json_values={"n": 4, "inputs.label_columns": ["column_1"]},
        notes=["no header row", "by position"],
    )
    text(
        "no_header_three_columns.csv",
        "7,1,0.9\n8,0,0.2\n9,1,0.7\n",
        "no header, three columns: ambiguous, the error says how to name them",
        [3],
        stderr=["no header row", "--label-col column_2"],
    )
    text(
        "one_column.csv",
        "y_pred\n0.9\n0.2\n0.7\n",
        "predictions only, no labels: the error points to --labels",
        [3],
        stderr=["labels", "--labels FILE"],
    )
    text(
        "preds_only.csv",
        "y_pred\n0.9\n0.2\n0.7\n0.4\n",
        "predictions only, scored with --labels labels_only.csv",
        [0],
        args=["--labels", "labels_only.csv"],
        json_values={"n": 4},
    )
    text(
        "labels_only.csv",
        "y_true\n1\n0\n1\n0\n",
        "labels only, given as PREDS: there are no predictions",
        [3],
        stderr=["cannot tell which column"],
    )
    text(
        "duplicate_columns.csv",
        "y_true,y_pred,y_pred\n1,0.9,0.8\n0,0.2,0.1\n",
        "two columns with the same name",
        [3],
        stderr=["'y_pred' appears twice", "rename"],
    )
    text(
        "blank_column_name.csv",
        ",y_true,y_pred\n0,1,0.9\n1,0,0.2\n2,1,0.7\n3,0,0.4\n",
        "a pandas index column without a name (holding 0 .. N-1): skipped, with a note",
        [0],
        json_values={"n": 4, "inputs.pred_columns": ["y_pred"]},
        notes=["has no name"],
    )
    text(
        "blank_header_cells.csv",
        ",\n1,0.9\n0,0.2\n",
        "a header of blank names only: no column can be found by name",
        [3],
        stderr=["cannot tell which column", "--label-col"],
    )
    text(
        "bom.csv",
        "\ufeffy_true,y_pred\n1,0.9\n0,0.2\n1,0.7\n0,0.4\n",
        "a UTF-8 byte order mark (Excel): the first column is still y_true",
        [0],
        json_values={"n": 4, "inputs.label_columns": ["y_true"]},
    )
    text(
        "bom_no_header.csv",
        "\ufeff1,0.9\n0,0.2\n1,0.7\n0,0.4\n",
        "a BOM and no header: the first row is data",
        [0],
        json_values={"n": 4},
    )
    text(
        "quoted_header.csv",
        '"y_true","y_pred"\n1,0.9\n0,0.2\n1,0.7\n0,0.4\n',
        "quoted column names",
        [0],
        json_values={"n": 4},
    )
    text(
        "id_column.csv",
        "id,y_true,y_pred\n17,1,0.9\n18,0,0.2\n19,1,0.7\n20,0,0.4\n",
        "an id column beside y_true and y_pred is ignored",
        [0],
        json_values={"n": 4, "inputs.label_columns": ["y_true"], "inputs.pred_columns": ["y_pred"]},
    )
    text(
        "control_chars_header.csv",
        "y_true,\x1b[31mscore\x1b[0m\n1,0.9\n0,0.2\n1,0.7\n0,0.4\n",
        "an ANSI escape in a column name: scored, and no raw escape reaches the terminal",
        [0],
        json_values={"n": 4},
    )
    text(
        "control_chars_unknown_names.csv",
        "\x1b[2Ja\x07,\x1b]0;pwned\x07b\n1,0.9\n0,0.2\n",
        "escape sequences in unknown column names: the error shows them escaped",
        [3],
        stderr=["cannot tell which column", "\\x1b"],
    )

    # --- delimiters and line endings ------------------------------------------------------
    text(
        "semicolon.csv",
        "y_true;y_pred\n1;0.9\n0;0.2\n1;0.7\n0;0.4\n",
        "';' as the delimiter",
        [0],
        json_values={"n": 4},
        notes=["semicolons"],
    )
    text(
        "semicolon_decimal_comma.csv",
        "y_true;y_pred\n1;0,9\n0;0,2\n1;0,7\n0;0,4\n",
        "';' and decimal commas (European Excel): read with a note",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
        notes=["decimal comma"],
    )
    text(
        "excel_sep_line.csv",
        "sep=;\ny_true;y_pred\n1;0,9\n0;0,2\n1;0,7\n0;0,4\n",
        "Excel's 'sep=;' first line",
        [0],
        json_values={"n": 4},
        notes=["sep="],
    )
    text(
        "tab_in_csv.csv",
        "y_true\ty_pred\n1\t0.9\n0\t0.2\n1\t0.7\n0\t0.4\n",
        "tab-separated text with a .csv name",
        [0],
        json_values={"n": 4},
    )
    text(
        "ok.tsv",
        "y_true\ty_pred\n1\t0.9\n0\t0.2\n1\t0.7\n0\t0.4\n",
        "a TSV file",
        [0],
        json_values={"n": 4},
    )
    text(
        "pipe.csv",
        "y_true|y_pred\n1|0.9\n0|0.2\n1|0.7\n0|0.4\n",
        "'|' as the delimiter",
        [0],
        json_values={"n": 4},
        notes=["pipes"],
    )
    text("crlf.csv", GOOD.replace("\n", "\r\n"), "Windows line endings", [0], json_values={"n": 4})
    text(
        "cr_only.csv",
        GOOD.replace("\n", "\r"),
        "old Mac line endings (CR only)",
        [0],
        json_values={"n": 4},
    )
    text(
        "no_final_newline.csv",
        GOOD.rstrip("\n"),
        "no newline after the last row",
        [0],
        json_values={"n": 4},
    )
    text(
        "trailing_blank_lines.csv",
        GOOD + "\n\n\n",
        "blank lines after the data",
        [0],
        json_values={"n": 4},
    )
    text(
        "blank_lines_between.csv",
        "y_true,y_pred\n1,0.9\n\n0,0.2\n\n1,0.7\n0,0.4\n",
        "blank lines between rows are skipped",
        [0],
        json_values={"n": 4},
    )
    text(
        "comment_top.csv",
        "# exported by eval.py\n# model v3, commit abc\n" + GOOD,
        "'#' comment lines at the top are skipped, with a note",
        [0],
        json_values={"n": 4},
        notes=["comment line"],
    )
    text(
        "comment_in_middle.csv",
        "y_true,y_pred\n1,0.9\n0,0.2\n# second run\n1,0.7\n",
        "a comment line among the data rows: named",
        [3],
        stderr=["row 2", "comment line"],
    )
    text(
        "whitespace_cells.csv",
        "y_true, y_pred\n1, 0.9\n0 ,0.2\n 1, 0.7 \n0,0.4\n",
        "spaces around names and numbers",
        [0],
        json_values={"n": 4},
    )
    text(
        "quoted_numbers.csv",
        '"y_true","y_pred"\n"1","0.9"\n"0","0.2"\n"1","0.7"\n"0","0.4"\n',
        "every number quoted",
        [0],
        json_values={"n": 4},
    )

    # --- bad cells ------------------------------------------------------------------------
    text(
        "thousands_separator.csv",
        'y_true,y_pred,sample_weight\n1,0.9,2\n0,0.2,"1,000.5"\n1,0.7,3\n',
        "a quoted number with a thousands separator in the weights: row, column, fix",
        [3],
        args=["--sample-weight", "sample_weight"],
        stderr=["row 1", "sample_weight", "'1,000.5'", "thousands separators"],
    )
    text(
        "missing_values.csv",
        "y_true,y_pred\n1,0.9\n0,NA\n1,nan\n0,inf\n1,\n,0.3\n0,0.2\n1,-inf\n0,0.4\n",
        "NA, nan, inf, -inf and empty cells: the rows are excluded and flagged (exit 1)",
        [1],
        flag="non_finite",
        json_values={"n": 3, "n_excluded": 6, "n_rows": 9},
    )
    text(
        "strings_in_preds.csv",
        "y_true,y_pred\n1,0.9\n0,0.2\n1,abc\n0,0.4\n",
        "a word in the prediction column: row and column named",
        [3],
        stderr=["row 2", "column y_pred", "'abc'", "not a number"],
    )
    text(
        "percent_strings.csv",
        "y_true,y_pred\n1,90%\n0,20%\n",
        "probabilities written as percentages",
        [3],
        stderr=["row 0", "'90%'", "0.9, not 90%"],
    )
    text(
        "excel_error_cell.csv",
        "y_true,y_pred\n1,0.9\n0,#DIV/0!\n1,0.7\n",
        "a spreadsheet error value",
        [3],
        stderr=["row 1", "'#DIV/0!'", "spreadsheet"],
    )
    text(
        "repeated_header.csv",
        GOOD + GOOD,
        "two CSV files concatenated: the second header is named",
        [3],
        stderr=["row 4", "repeats the header"],
    )
    text(
        "ragged_too_many.csv",
        "y_true,y_pred\n1,0.9\n0,0.2,0.3\n1,0.7\n",
        "a row with more fields than the header",
        [3],
        stderr=["row 1", "line 3", "3 fields", "header has 2"],
    )
    text(
        "ragged_too_few.csv",
        "y_true,y_pred\n1,0.9\n0,0.2\n1\n0,0.4\n",
        "a row with fewer fields than the header",
        [3],
        stderr=["row 2", "1 field", "header has 2"],
    )
    text(
        "unclosed_quote.csv",
        'y_true,y_pred\n1,0.9\n0,"0.2\n1,0.7\n',
        "an unclosed quote swallows the rest of the file",
        [3],
        stderr=["row 1", "line 3", "unclosed quote"],
    )
    text(
        "preds_all_nan.csv",
        "y_true,y_pred\n1,nan\n0,NaN\n1,\n",
        "every prediction missing: nothing to score",
        [3],
        stderr=["y_pred", "no number"],
    )
    text(
        "labels_all_empty.csv",
        "y_true,y_pred\n,0.9\n,0.2\n,0.7\n",
        "the label column is empty in every row",
        [3],
        stderr=["y_true", "no number"],
    )
    text(
        "preds_mostly_nan.csv",
        "y_true,y_pred\n1,nan\n0,nan\n1,0.8\n",
        "every prediction but one missing: scored on one row, flagged",
        [1],
        flag="non_finite",
        json_values={"n": 1, "n_excluded": 2},
    )

    text(
        "every_row_has_a_gap.csv",
        "y_true,y_pred\n1,\n,0.2\n0,nan\n",
        "no column is empty, but every row misses a label or a prediction: nothing to score",
        [3],
        stderr=["all 3 rows were excluded"],
    )
    text(
        "label_col_missing.csv",
        GOOD,
        "--label-col names a column the file does not have (an option error: exit 2)",
        [2],
        args=["--label-col", "nope"],
        stderr=["'nope'", "y_true, y_pred"],
    )
    text(
        "weights_short_preds.csv",
        GOOD,
        "a weights file with fewer rows than the input",
        [3],
        args=["--sample-weight", "weights_short.csv"],
        stderr=["4 rows", "weights_short.csv has 3 rows"],
    )
    text(
        "weights_short.csv",
        "weight\n1\n2\n3\n",
        "weights only (used by weights_short_preds.csv): no labels, no predictions",
        [3],
        stderr=["cannot tell which column"],
    )

    # --- labels ---------------------------------------------------------------------------
    text(
        "labels_yes_no.csv",
        "y_true,y_pred\nyes,0.9\nno,0.2\nyes,0.7\nno,0.4\n",
        "yes/no labels: yes = 1, with a note",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
        notes=["yes = 1, no = 0"],
    )
    text(
        "labels_cat_dog.csv",
        "y_true,prob\ncat,0.1\ndog,0.8\ncat,0.3\ndog,0.6\n",
        "cat/dog labels: sorted order, cat = 0, dog = 1, with a note",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
        notes=["cat = 0, dog = 1"],
    )
    text(
        "labels_bool.csv",
        "y_true,y_pred\nTrue,0.9\nFalse,0.2\nTrue,0.7\nFalse,0.4\n",
        "True/False labels",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
    )
    text(
        "labels_float.csv",
        "y_true,y_pred\n1.0,0.9\n0.0,0.2\n1.0,0.7\n0.0,0.4\n",
        "labels written 1.0/0.0",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
    )
    text(
        "labels_mixed_text.csv",
        "y_true,y_pred\n1,0.9\n0,0.2\nunknown,0.7\n0,0.4\n",
        "one word among numeric labels: a mistake, named by row",
        [3],
        stderr=["row 2", "y_true", "'unknown'"],
    )
    text(
        "labels_pm1.csv",
        "y_true,y_pred\n1,0.9\n-1,0.2\n1,0.7\n-1,0.4\n",
        "labels coded -1/+1: a report with the flag",
        [0, 1],
        flag="labels_pm1",
    )
    text(
        "logits.csv",
        "y_true,y_pred\n1,2.5\n0,-1.2\n1,0.7\n0,-3.1\n",
        "logits given as probabilities: a report with the error flag",
        [1],
        flag="pred_out_of_range",
    )

    # --- tiny inputs ----------------------------------------------------------------------
    text("one_row.csv", "y_true,y_pred\n1,0.9\n", "a single sample", [0, 1], json_values={"n": 1})
    text("two_rows.csv", "y_true,y_pred\n1,0.9\n0,0.2\n", "two samples", [0], json_values={"n": 2})

    # --- mismatched files -----------------------------------------------------------------
    text(
        "mismatch_preds.csv",
        "y_pred\n0.9\n0.2\n0.7\n0.4\n0.5\n",
        "5 predictions against 3 labels",
        [3],
        args=["--labels", "mismatch_labels.csv"],
        stderr=["5 rows", "mismatch_labels.csv has 3 rows", "match row for row"],
    )
    text(
        "mismatch_labels.csv",
        "y_true\n1\n0\n1\n",
        "labels only (used by mismatch_preds)",
        [3],
        stderr=["cannot tell which column"],
    )
    text(
        "labels_one_longer.csv",
        "y_true\n1\n0\n1\n0\n1\n",
        "labels only, one row longer than preds_only.csv",
        [3],
        stderr=["cannot tell which column"],
    )
    text(
        "off_by_one_preds.csv",
        "y_pred\n0.9\n0.2\n0.7\n0.4\n",
        "4 predictions against 5 labels: the off-by-one hint",
        [3],
        args=["--labels", "labels_one_longer.csv"],
        stderr=["4 rows", "labels_one_longer.csv has 5 rows", "one extra row"],
    )

    # --- encodings and binary -------------------------------------------------------------
    rng = np.random.default_rng(7)
    text(
        "binary_garbage.csv",
        bytes(rng.integers(0, 256, 2000, dtype=np.uint8)),
        "random bytes with a .csv name",
        [3],
        stderr=["binary data"],
    )
    text(
        "utf16.csv",
        "y_true\ty_pred\n1\t0.9\n0\t0.2\n".encode("utf-16"),
        "UTF-16 text (Excel's 'Unicode Text')",
        [3],
        stderr=["UTF-16"],
    )
    text(
        "latin1_labels.csv",
        "y_true,y_pred\nmalade,0.9\nsain,0.2\nmalade,0.7\nsain,0.4\nnégatif,0.1\n".encode(
            "latin-1"
        ),
        "Latin-1 text in the label column",
        [3],
        stderr=["row 4", "not UTF-8"],
    )
    text(
        "latin1_header.csv",
        "étiquette,prédiction\n1,0.9\n0,0.2\n".encode("latin-1"),
        "a Latin-1 header",
        [3],
        stderr=["line 1", "not UTF-8", "0xe9"],
    )
    text(
        "json_file.json",
        '[{"y_true": 1, "y_pred": 0.9}]\n',
        "JSON input",
        [3],
        stderr=["JSON", "convert it to CSV"],
    )
    text(
        "csv_named.npy",
        GOOD,
        "CSV text with an .npy name: read as CSV, with a note",
        [0],
        json_values={"n": 4},
        notes=["not an NPY file"],
    )
    text(
        "garbage.npy",
        b"\x00\x01\x02" * 100,
        "binary that is not NPY, with an .npy name",
        [3],
        stderr=["not an NPY file", "not text either"],
    )
    text(
        "pickle.pkl",
        b"\x80\x04\x95" + bytes(40),
        "a Python pickle",
        [3],
        stderr=["pickle", "never loads"],
    )

    # --- gzip -----------------------------------------------------------------------------
    write("ok.csv.gz", gz(GOOD.encode()))
    expect("ok.csv.gz", "a gzip'd CSV that is fine", [0], json_values={"n": 4})
    whole = gz((GOOD * 50).encode())
    write("truncated.csv.gz", whole[: len(whole) // 2])
    expect(
        "truncated.csv.gz",
        "a gzip'd CSV cut in half",
        [3],
        ["truncated.csv.gz", "truncated or corrupt gzip"],
    )
    write("empty.csv.gz", gz(b""))
    expect("empty.csv.gz", "a gzip of nothing", [3], ["empty.csv.gz", "is empty"])
    write("npy_in_gzip.npy.gz", gz(_npy_bytes(np.array([0.5, 0.2]))))
    expect(
        "npy_in_gzip.npy.gz",
        "an NPY file compressed with gzip",
        [3],
        ["npy_in_gzip.npy.gz", "gunzip"],
    )
    write("not_gzip.csv.gz", GOOD)
    expect("not_gzip.csv.gz", "plain CSV with a .gz name (read as CSV)", [0], json_values={"n": 4})

    # --- stdin ----------------------------------------------------------------------------
    text(
        "stdin_ok.csv",
        GOOD,
        "CSV on stdin ('-')",
        [0],
        stdin=True,
        json_values={"n": 4, "inputs.sources": ["<stdin>"]},
    )
    text(
        "stdin_strings.csv",
        "y_true,y_pred\n1,0.9\n0,oops\n",
        "a bad cell on stdin",
        [3],
        stdin=True,
        stderr=["<stdin>", "row 1", "'oops'"],
    )
    text("stdin_empty.csv", "", "nothing on stdin", [3], stdin=True, stderr=["<stdin>", "is empty"])

    # --- paths ----------------------------------------------------------------------------
    (HERE / "a_directory").mkdir()
    write("a_directory/.gitkeep", "")
    expect(
        "a_directory",
        "a directory instead of a file (click: exit 2)",
        [2],
        ["a_directory", "directory"],
    )
    expect(
        "missing.csv",
        "a file that does not exist (click: exit 2)",
        [2],
        ["missing.csv", "no such file"],
    )
    write("labels_missing_file.csv", GOOD)
    expect(
        "labels_missing_file.csv",
        "--labels names a file that does not exist: the error names that file",
        [2],
        ["no_such_labels.csv", "no such file"],
        args=["--labels", "no_such_labels.csv"],
    )


def _npy_bytes(arr: Any, **kw: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, **kw)
    return buf.getvalue()


def npy_cases() -> None:
    labels4 = np.array([1, 0, 1, 0], dtype=np.int64)
    preds4 = np.array([0.9, 0.2, 0.7, 0.4])
    npy(
        "labels.npy",
        labels4,
        "a bare labels array given as PREDS: the labels are missing",
        [3],
        stderr=["--labels FILE"],
    )
    npy(
        "preds.npy",
        preds4,
        "a good NPY pair",
        [0],
        args=["--labels", "labels.npy"],
        json_values={"n": 4},
    )
    npy(
        "preds_five.npy",
        np.array([0.9, 0.2, 0.7, 0.4, 0.5]),
        "5 predictions against 4 labels",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["5 rows", "labels.npy has 4 rows"],
    )
    good = _npy_bytes(np.linspace(0.1, 0.9, 100))
    write("truncated.npy", good[: len(good) - 400])
    expect(
        "truncated.npy",
        "an NPY file cut short",
        [3],
        ["truncated.npy", "truncated", "800 bytes"],
        args=["--labels", "labels.npy"],
    )
    corrupt = bytearray(good[:128])
    corrupt[10:40] = b"{'descr': <f8, 'fortran_ord!!"
    write("corrupt_header.npy", bytes(corrupt) + good[128:])
    expect(
        "corrupt_header.npy",
        "an NPY file whose header is garbage",
        [3],
        ["corrupt_header.npy", "corrupt NPY header"],
        args=["--labels", "labels.npy"],
    )
    npy(
        "pickled.npy",
        np.array([0.9, {"a": 1}, None, 0.4], dtype=object),
        "an object array saved with pickles: refused unread",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["pickled Python objects", "never loads"],
    )
    npy(
        "object_numbers.npy",
        np.array([0.9, 0.2, 0.7, 0.4], dtype=object),
        "numbers in an object array (still a pickle): refused",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["pickled"],
    )
    npy(
        "str_dtype.npy",
        np.array(["0.9", "0.2", "0.7", "0.4"]),
        "an array of strings",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["text", "<U3"],
    )
    npy(
        "bytes_dtype.npy",
        np.array([b"0.9", b"0.2", b"0.7", b"0.4"]),
        "an array of bytes",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["bytes"],
    )
    npy(
        "complex.npy",
        np.array([0.9, 0.2, 0.7, 0.4]) + 0j,
        "complex numbers",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["complex numbers"],
    )
    npy(
        "datetime.npy",
        np.array(["2024-01-01"] * 4, dtype="datetime64[D]"),
        "dates",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["dates"],
    )
    npy(
        "scalar_0d.npy",
        np.array(0.5),
        "a 0-d array",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["single number", "shape ()"],
    )
    npy(
        "three_d.npy",
        np.full((4, 2, 2), 0.25),
        "a 3-d array",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["(4, 2, 2)", "reshape"],
    )
    npy(
        "empty_array.npy",
        np.zeros(0),
        "an empty array",
        [3],
        args=["--labels", "labels.npy"],
        stderr=["empty", "(0,)"],
    )
    npy(
        "one_element.npy",
        np.array([0.9]),
        "a 1-element array and its 1 label",
        [0, 1],
        args=["--labels", "one_label.npy"],
        json_values={"n": 1},
    )
    npy(
        "one_label.npy", np.array([1.0]), "one label, no predictions", [3], stderr=["--labels FILE"]
    )
    npy(
        "nan_preds.npy",
        np.array([0.9, np.nan, 0.7, np.inf]),
        "NaN and inf in an NPY array: flagged, excluded",
        [1],
        args=["--labels", "labels.npy"],
        flag="non_finite",
        json_values={"n": 2, "n_excluded": 2},
    )
    npy(
        "big_endian.npy",
        preds4.astype(">f8"),
        "big-endian floats",
        [0],
        args=["--labels", "labels.npy"],
        json_values={"n": 4},
    )
    npy(
        "float16.npy",
        preds4.astype(np.float16),
        "half-precision floats",
        [0],
        args=["--labels", "labels.npy"],
        json_values={"n": 4},
    )
    rec = np.zeros(4, dtype=[("y_true", "i8"), ("y_pred", "f8")])
    rec["y_true"], rec["y_pred"] = labels4, preds4
    npy(
        "structured.npy",
        rec,
        "a structured array with y_true and y_pred fields",
        [0],
        json_values={"n": 4, "inputs.label_columns": ["y_true"]},
    )
    rec_obj = np.zeros(2, dtype=[("y_true", "i8"), ("y_pred", "O")])
    npy(
        "structured_object.npy",
        rec_obj,
        "a structured array with an object field",
        [3],
        stderr=["pickled"],
    )


def npz_cases() -> None:
    labels4 = np.array([1, 0, 1, 0])
    preds4 = np.array([0.9, 0.2, 0.7, 0.4])
    npz(
        "npz_ok.npz", {"y_true": labels4, "y_pred": preds4}, "a good NPZ", [0], json_values={"n": 4}
    )
    npz(
        "npz_wrong_keys.npz",
        {"a": labels4, "b": preds4},
        "keys that name neither labels nor predictions",
        [3],
        stderr=["cannot tell which column", "a, b", "--label-col"],
    )
    npz(
        "npz_positional_keys.npz",
        {"arr_0": labels4, "arr_1": preds4},
        "np.savez without names (arr_0, arr_1): labels and predictions told apart by their "
        "values, with a note (issue 19)",
        [0],
        json_values={"n": 4, "inputs.label_columns": ["arr_0"]},
        notes=["arr_0 as labels", "arr_1 as predictions"],
    )
    npz(
        "npz_pickled.npz",
        {"y_true": labels4, "y_pred": np.array([0.9, None], dtype=object)},
        "a member holding pickled objects",
        [3],
        stderr=["y_pred", "pickled"],
    )
    npz(
        "npz_lengths.npz",
        {"y_true": labels4, "y_pred": np.array([0.9, 0.2, 0.7])},
        "members of different lengths",
        [3],
        stderr=["different lengths", "y_pred has 3"],
    )
    npz("npz_empty.npz", {}, "an NPZ with no arrays", [3], stderr=["no arrays"])
    write("npz_text_zip.npz", zipped([("a.txt", b"1\n0\n"), ("b.txt", b"0.9\n0.2\n")]))
    expect(
        "npz_text_zip.npz",
        "a zip of text files with an .npz name",
        [3],
        ["npz_text_zip.npz", "without NPY arrays", "a.txt"],
    )
    write(
        "excel.xlsx",
        zipped([("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")]),
    )
    expect("excel.xlsx", "an Excel workbook", [3], ["excel.xlsx", "Excel workbook"])
    whole = io.BytesIO()
    np.savez(whole, y_true=labels4, y_pred=preds4)
    write("npz_truncated.npz", whole.getvalue()[:300])
    expect("npz_truncated.npz", "an NPZ cut short", [3], ["npz_truncated.npz", "NPZ"])


def parquet_cases() -> None:
    y = pa.array([1, 0, 1, 0], pa.int64())
    p = pa.array([0.9, 0.2, 0.7, 0.4])
    nested = pa.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    parquet(
        "nested_pred.parquet",
        pa.table({"y_true": y, "y_pred": nested}),
        "a list column used as the predictions",
        [3],
        stderr=["y_pred", "lists", "flatten"],
    )
    meta = pa.array([{"k": 1, "s": "a"}] * 4)
    parquet(
        "nested_unused.parquet",
        pa.table({"y_true": y, "y_pred": p, "meta": meta, "tags": nested}),
        "struct and list columns that are not used",
        [0],
        json_values={"n": 4},
    )
    parquet(
        "string_preds.parquet",
        pa.table({"y_true": y, "y_pred": pa.array(["0.9", "n/a?", "0.7", "0.4"])}),
        "predictions stored as text, one not a number",
        [3],
        stderr=["row 1", "y_pred", "'n/a?'"],
    )
    parquet(
        "empty.parquet",
        pa.table({"y_true": y[:0], "y_pred": p[:0]}),
        "no rows",
        [3],
        stderr=["no rows"],
    )
    parquet(
        "categorical_labels.parquet",
        pa.table(
            {"y_true": pa.array(["dog", "cat", "dog", "cat"]).dictionary_encode(), "y_pred": p}
        ),
        "dictionary-encoded (pandas category) text labels",
        [0],
        json_values={"n": 4, "accuracy": 1.0},
        notes=["cat = 0, dog = 1"],
    )
    parquet(
        "null_preds.parquet",
        pa.table({"y_true": y, "y_pred": pa.array([0.9, None, 0.7, 0.4])}),
        "a null prediction: flagged and excluded",
        [1],
        flag="non_finite",
        json_values={"n": 3, "n_excluded": 1},
    )
    write("corrupt.parquet", b"PAR1" + bytes(range(200)) + b"PAR1")
    expect(
        "corrupt.parquet",
        "Parquet magic around garbage",
        [3],
        ["corrupt.parquet", "not a readable Parquet file"],
    )
    good = io.BytesIO()
    pq.write_table(pa.table({"y_true": y, "y_pred": p}), good)
    write("truncated.parquet", good.getvalue()[:-30])
    expect("truncated.parquet", "a Parquet file cut short", [3], ["truncated.parquet", "Parquet"])


def hostile_cases() -> None:
    """Issue 21: files that broke bce or were misdiagnosed (the running conditions, such as a
    file changed while it is read, are built at test time in test_hostile_readers.py)."""
    body = GOOD
    npy("no_outputs.npy", np.zeros((4, 0)), "shape (4, 0): rows without values", [3],
        stderr=["shape (4, 0)", "K >= 1"], args=["--labels", "labels.npy"])  # fmt: skip
    labels4 = _npy_bytes(np.array([1.0, 0.0, 1.0, 0.0]))
    preds4 = _npy_bytes(np.array([0.9, 0.2, 0.7, 0.4]))
    claim = preds4.replace(b"(4,)", b"(1000000000000,)")
    assert claim != preds4
    members = [("y_true.npy", labels4), ("y_pred.npy", claim)]
    for name, method in (("npz_huge_claim.npz", zipfile.ZIP_DEFLATED),
                         ("npz_huge_claim_stored.npz", zipfile.ZIP_STORED)):  # fmt: skip
        write(name, zipped(members, method))
        expect(name, "a member whose header claims 10^12 rows: refused before any allocation",
               [3], [name, "'y_pred'", "header promises shape (1000000000000,)"])  # fmt: skip
    pair = [("y_true.npy", labels4), ("y_pred.npy", preds4)]
    write("npz_duplicate_member.npz", zipped([*pair, ("y_pred.npy", _npy_bytes(1 - np.array(
        [0.9, 0.2, 0.7, 0.4])))]))  # fmt: skip
    expect("npz_duplicate_member.npz", "two members named y_pred.npy", [3],
           ["npz_duplicate_member.npz", "two members named 'y_pred.npy'"])  # fmt: skip
    write("npz_deflate64.npz", patched_zip(zipped(pair), method=9))
    expect("npz_deflate64.npz", "members compressed with Deflate64, which zipfile cannot read",
           [3], ["npz_deflate64.npz", "Deflate64", "np.savez"])  # fmt: skip
    write("npz_encrypted.npz", patched_zip(zipped(pair), encrypted=True))
    expect("npz_encrypted.npz", "password-protected members", [3],
           ["npz_encrypted.npz", "encrypted", "password"])  # fmt: skip
    (HERE / "partitions_with_gaps").mkdir()
    write("partitions_with_gaps/part-0.csv", GOOD)
    write("partitions_with_gaps/part-1.csv", "y_true,y_pred\n")
    write("partitions_with_gaps/part-2.csv", "")
    write("partitions_with_gaps/part-3.csv", "y_true,y_pred\n1,0.6\n")
    write("partitions_with_gaps/README.txt", "scores of run 7\n")
    expect("partitions_with_gaps", "a header-only, a 0-byte partition and a README beside the "
           "partitions: skipped, with notes", [0], json_values={"n": 5},
           notes=["2 empty partitions skipped (no rows): part-1.csv, part-2.csv",
                  "without a partition suffix: README.txt"])  # fmt: skip
    text("header_quoted_newline.csv", 'y_true,"y_pred\n(probability)"\n1,0.9\n0,0.2\n1,0.7\n'
         '0,0.4\n', "a quoted line end in a column name (RFC 4180): read", [0],
         json_values={"n": 4, "accuracy": 1.0})  # fmt: skip
    text("fullwidth_digits.csv", "y_true,y_pred\n1,0.9\n0,\uff10.\uff12\n1,0.7\n",
         "fullwidth digits in a prediction: named with row, cell and the ASCII spelling", [3],
         stderr=["row 1 (line 3), column y_pred", "ASCII digits", "(0.2)",
                 "FULLWIDTH DIGIT ZERO"])  # fmt: skip
    text("nbsp_in_number.csv", "y_true,y_pred\n1,0.9\n0,0.2\u00a0\n1,0.7\n",
         "a non-breaking space after a number", [3],
         stderr=["row 1 (line 3), column y_pred", "U+00A0 NO-BREAK SPACE"])  # fmt: skip
    text("arabic_digit_label.csv", "y_true,y_pred\n1,0.9\n\u0660,0.2\n1,0.7\n",
         "an Arabic-Indic zero among the labels: not read as 0", [3],
         stderr=["row 1", "label '\u0660' is text"])  # fmt: skip
    text("weight_is_label.csv", "y_true,y_pred,w\n1,0.9,1\n0,0.2,2\n",
         "--sample-weight naming the label column: a usage error", [2],
         stderr=["--sample-weight 'y_true' is the column that holds the labels"],
         args=["--sample-weight", "y_true"])  # fmt: skip
    text("label_col_is_pred_col.csv", "y_true,y_pred\n1,0.9\n0,0.2\n",
         "--label-col and --pred-col naming one column: a usage error", [2],
         stderr=["--label-col and --pred-col both name y_pred"],
         args=["--label-col", "y_pred", "--pred-col", "y_pred"])  # fmt: skip
    parquet("int_beyond_2_53.parquet", pa.table({"y_true": pa.array([1, 0, 2**53 + 1, 0]),
            "y_pred": pa.array([0.9, 0.2, 0.7, 0.4])}),
            "an int64 label beyond 2^53: read (as the nearest float), flagged as a bad label, "
            "not called a truncated file", [1], flag="label_out_of_range")  # fmt: skip
    for name, encoding, says in (
        ("utf16le_no_bom.csv", "utf-16-le", "UTF-16LE text without a byte order mark"),
        ("utf16be_no_bom.csv", "utf-16-be", "UTF-16BE text without a byte order mark"),
        ("utf32.csv", "utf-32", "iconv -f UTF-32 -t UTF-8"),
        ("utf32le_no_bom.csv", "utf-32-le", "UTF-32LE text without a byte order mark"),
    ):
        text(name, body.encode(encoding), f"{encoding} text: named as such", [3],
             stderr=[says])  # fmt: skip


def main() -> None:
    os.chdir(HERE)
    clean()
    csv_cases()
    npy_cases()
    npz_cases()
    parquet_cases()
    hostile_cases()
    n = len(list(HERE.glob("*.expect.json")))
    print(f"{n} cases written to {HERE}")


if __name__ == "__main__":
    main()
