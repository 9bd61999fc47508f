"""Usage: one record per gateway call — prices, the record, the batching writer,
queries, metrics and traces."""
