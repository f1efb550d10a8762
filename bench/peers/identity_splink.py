"""Splink 5 (DuckDB backend, 2 threads) deduplicating the people file: the identity peer.

Runs in the peers venv::

    bench/.peers-venv/bin/python bench/peers/identity_splink.py --input people.parquet --out clusters.parquet

Settings follow Splink's own tutorial for people data, on the same fields and
blocking rules as jobctl's ``identity_match`` spec in the bench: Jaro-Winkler
levels on first and last name (last name with term-frequency adjustments),
Splink's date-of-birth comparison, exact email and phone, a Levenshtein
comparison of the street line; blocking on soundex(last name) + date of birth,
email, phone, and first + last name (either order) + year of birth. Training as
the docs recommend: the prior from deterministic rules (recall 0.7), u by
random sampling (1e7 pairs), m by EM on two blocking rules (names; date of
birth), each on at most 1e7 pairs (Splink 5's ``max_pairs``: without it, EM on
date of birth alone compares 18M pairs at 1M people and ~1.8B at 10M). Then predict at 0.5 and
cluster at 0.5. Only light cleaning that Splink's tutorial does (lower case,
trim, ISO dates where the text parses) is applied, inside DuckDB.

Prints one JSON line: seconds per stage, pairs, clusters, splink version. The
clusters (``person_id, entity_id``) are written to ``--out`` for scoring.
"""

from __future__ import annotations

import argparse
import json
import time

import duckdb
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

#: pairs each EM session trains on at most (Splink samples records to fit)
EM_MAX_PAIRS = 1e7

CLEAN = """
SELECT person_id,
       nullif(lower(trim(first_name)), '') AS first_name,
       nullif(lower(trim(last_name)), '') AS last_name,
       coalesce(try_strptime(dob, '%Y-%m-%d'), try_strptime(dob, '%m/%d/%Y'),
                try_strptime(dob, '%d %b %Y'))::DATE::VARCHAR AS dob,
       nullif(lower(trim(email)), '') AS email,
       nullif(regexp_replace(phone, '[^0-9]', '', 'g'), '') AS phone,
       nullif(lower(trim(street)), '') AS street,
       soundex(lower(trim(last_name))) AS last_name_soundex
FROM read_parquet(?)
"""

_CODES = {letter: str(digit) for digit, group in enumerate(
    ("bfpv", "cgjkqsxz", "dt", "l", "mn", "r"), start=1) for letter in group}  # fmt: skip


def soundex(name: str | None) -> str | None:
    """American Soundex (DuckDB has none; the docs precompute such keys before Splink)."""
    letters = [c for c in (name or "").lower() if "a" <= c <= "z"]
    if not letters:
        return None
    out, last = [letters[0].upper()], _CODES.get(letters[0], "")
    for c in letters[1:]:
        code = _CODES.get(c, "")
        if code and code != last:
            out.append(code)
        if c not in "hw":
            last = code
    return ("".join(out) + "000")[:4]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.create_function("soundex", soundex, ["VARCHAR"], "VARCHAR", null_handling="special")
    con.execute(f"CREATE TABLE people AS {CLEAN}", [args.input])
    times["load"] = time.perf_counter() - started

    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="person_id",
        comparisons=[
            cl.JaroWinklerAtThresholds("first_name", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("last_name", [0.92, 0.8]).configure(
                term_frequency_adjustments=True
            ),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("email"),
            cl.ExactMatch("phone"),
            cl.LevenshteinAtThresholds("street", [1, 3]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("last_name_soundex", "dob"),
            block_on("email"),
            block_on("phone"),
            block_on("first_name", "last_name", "substr(dob, 1, 4)"),
            "l.first_name = r.last_name AND l.last_name = r.first_name"
            " AND substr(l.dob, 1, 4) = substr(r.dob, 1, 4)",
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("people"), settings)
    mark = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob"), block_on("email")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "last_name"), max_pairs=EM_MAX_PAIRS
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), max_pairs=EM_MAX_PAIRS
    )
    times["train"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pairs = linker.inference.predict(threshold_match_probability=0.5)
    times["predict"] = time.perf_counter() - mark
    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(pairs, 0.5)
    times["cluster"] = time.perf_counter() - mark
    mark = time.perf_counter()
    edges = con.execute(f"SELECT count(*) FROM {pairs.physical_name}").fetchall()[0]
    con.sql(
        f"COPY (SELECT person_id, cluster_id AS entity_id FROM {clusters.physical_name})"
        f" TO '{args.out}' (FORMAT PARQUET)"
    )
    times["write"] = time.perf_counter() - mark
    print(
        json.dumps(
            {
                "splink": splink.__version__,
                "duckdb": duckdb.__version__,
                "threads": args.threads,
                "edges": edges[0] if edges else None,
                "stages": {key: round(value, 2) for key, value in times.items()},
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
