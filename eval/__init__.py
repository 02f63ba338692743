"""Measurement: run an eval set through the engine and report grounding metrics."""
