"""Wires engine, application and store into a node process."""
