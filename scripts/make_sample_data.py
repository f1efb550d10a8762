"""Write the demo's sample customers CSV files (seeded: the same bytes every time).

Includes the cases a CSV planner must get right: quoted fields with commas,
doubled quotes and newlines inside quotes.
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Linus"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
CITIES = ["Berlin", "Lisbon", "Oslo", "Austin", "Nairobi", "Osaka", "Quito", "Perth"]


def write_customers(directory: Path, files: int, rows_per_file: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    customer_id = 0
    for index in range(files):
        path = directory / f"customers-{index:02d}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer_id", "first_name", "last_name", "city", "notes", "balance"])
            for _ in range(rows_per_file):
                customer_id += 1
                note = rng.choice(
                    ["", "prefers email", 'says "hi", often', "line one\nline two", "vip, annual"]
                )
                writer.writerow(
                    [
                        customer_id,
                        rng.choice(FIRST),
                        rng.choice(LAST),
                        rng.choice(CITIES),
                        note,
                        f"{rng.uniform(-500, 5000):.2f}",
                    ]
                )
    return customer_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--files", type=int, default=3)
    parser.add_argument("--rows", type=int, default=4000, help="rows per file")
    args = parser.parse_args()
    total = write_customers(args.directory, args.files, args.rows)
    print(f"wrote {total} customers in {args.files} file(s) under {args.directory}")


if __name__ == "__main__":
    main()
