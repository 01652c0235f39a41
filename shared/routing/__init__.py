"""Intent routing: exemplars as data, one matrix product a query, calibrated thresholds."""
