"""Data preparation scripts (runnable as `python data_prep/<script>.py` or `python -m data_prep.<script>`)."""
