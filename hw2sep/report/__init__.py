"""The PDF report, built from result files only: ``results`` (reading comparison.csv, per-track csv, log.csv and
checkpoint jsons, selection.json), ``inputs`` (everything the slides show, read once), ``plots`` and
``experiment_plots`` (figures), ``slides`` (16:9 PDF pages and tables), ``text`` (the generated words), ``pages``
(one function per slide), ``optional`` (the optional-task slides) and ``build`` (the report).

May import: hw2sep.names, hw2sep.errors, hw2sep.common.files and .checkpoint_json, hw2sep.dsp.methods (torch-free). Never torch, and never
training, separation, evaluation or models: the report reads what those wrote.
"""
