"""The PDF report, built from result files only: ``results`` (reading comparison.csv, per-track csv, log.csv and
checkpoint jsons), ``plots`` (figures), ``slides`` (16:9 PDF pages), ``text`` (the generated words and tables),
``optional`` (the optional-task slides) and ``build`` (the report).

May import: hw2sep.names, hw2sep.errors, hw2sep.common.files, hw2sep.dsp.methods (torch-free). Never torch, and never
training, separation, evaluation or models: the report reads what those wrote.
"""
