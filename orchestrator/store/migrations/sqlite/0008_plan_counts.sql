-- 0008: a plan's chunks are counted once per insert, not once per row.
-- The row trigger of 0005 made inserting a chunk cost ~3x as much (200,000
-- chunk rows: 11.2 s with it, 3.5 s without; a 1,000,000-chunk submit took
-- 71 s with it, 32 s after this migration). Every
-- chunk is inserted by the one statement `insert_chunk` (pending, no rows, no
-- attempts), and the store adds the batch's count to its job's pending row in
-- the same transaction (`count_inserted_chunks`); updates and deletes are
-- still counted by the triggers of 0005.
DROP TRIGGER chunk_counts_insert;
