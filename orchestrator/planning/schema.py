"""One CSV schema per job, inferred once at plan time.

Arrow infers CSV column types per read; chunks of one file read separately
could disagree (digits in one chunk, text in the next; an all-empty column
read as null), and the parts of one output would then have different schemas.
The planner infers the types once, from the first :data:`SAMPLE_BYTES` of
the job's first chunk (as a single Arrow read infers them from its first
block), and every worker reads its slice with that schema. A later row that does not fit (text
in a column inferred as integer) fails its chunk with an error naming the
chunk, instead of silently producing a part of another schema.
"""

from __future__ import annotations

import base64

import pyarrow as pa

from orchestrator.io.readers import sample_csv_schema
from orchestrator.planning.model import ChunkDescriptor
from orchestrator.spec.model import CsvOptions

#: How much of the first chunk the types are inferred from: a few thousand
#: records, parsed in a few milliseconds instead of the whole chunk.
SAMPLE_BYTES = 4 << 20


def infer_csv_schema(first_chunk: ChunkDescriptor, csv: CsvOptions) -> pa.Schema:
    """Types of the first chunk's first records; a column with no value in them
    becomes a string column."""
    schema = sample_csv_schema(first_chunk, csv, SAMPLE_BYTES)
    fields = [
        field.with_type(pa.string()) if pa.types.is_null(field.type) else field for field in schema
    ]
    return pa.schema(fields)


def encode_schema(schema: pa.Schema) -> str:
    """A JSON-safe text form (Arrow IPC bytes, base64) for the store and the wire."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
