"""Measurement: per-request records, exact mergeable histograms and books, time series,
SLOs, thresholds and the run summary."""
