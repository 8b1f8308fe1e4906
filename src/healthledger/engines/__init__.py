"""Engines order transactions into blocks and drive the application: solo or CometBFT."""
