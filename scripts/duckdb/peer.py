"""DuckDB peer for `sieve bench`: runs a task's true-clue rule as SQL over a dataset's Parquet files.

A long-lived process, so that the Python and DuckDB start-up is paid once: each line on standard
input is a JSON request {"dir": DATASET_DIR, "task": TASK}; each answer is one JSON line
{"ms": WALL_MS, "clues": [[SUBJECT, RULE], ...]} or {"error": TEXT}. The time covers a fresh
in-memory connection, reading the Parquet files and the query, as a user of DuckDB would pay it.
"""

import json
import pathlib
import sys
import time

import duckdb

HERE = pathlib.Path(__file__).resolve().parent


def run(request):
    sql = (HERE / f"{request['task']}.sql").read_text()
    directory = pathlib.Path(request["dir"])
    started = time.perf_counter()
    con = duckdb.connect()
    for table in sorted(directory.glob("*.parquet")):
        # The row number is each row's place in its file, as evidence rows are counted.
        path = str(table).replace("'", "''")
        con.execute(
            f"CREATE VIEW \"{table.stem}\" AS SELECT * FROM read_parquet('{path}', file_row_number = true)"
        )
    clues = con.execute(sql).fetchall()
    elapsed = time.perf_counter() - started
    con.close()
    return {"ms": elapsed * 1000.0, "clues": [[s, r] for s, r in clues]}


def main():
    for line in sys.stdin:
        try:
            answer = run(json.loads(line))
        except Exception as e:  # Every failure is an answer: the bench names it.
            answer = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
