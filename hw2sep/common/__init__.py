"""Shared helpers every stage may use: atomic file writes and one-line json reading (``files``), device choice
and autocast (``devices``).

Owns: how files are written (atomically) and how a device is resolved. May import: hw2sep.names, hw2sep.errors.
"""
