"""Scoring: one module per benchmark kind, and the aggregation they share."""
