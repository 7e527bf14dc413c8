"""Shared helpers every stage may use: atomic file writes, one-line write errors and json reading (``files``), the
checks of a checkpoint json every reader shares (``checkpoint_json``), device choice and autocast (``devices``) and
the one progress bar (``progress``).

Owns: how files are written (atomically) and how a device is resolved. May import: hw2sep.names, hw2sep.errors.
"""
