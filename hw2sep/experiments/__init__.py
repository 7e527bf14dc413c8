"""The optional studies as reproducible experiments: ``runner`` trains and scores every run of a study file with one
budget and writes its table (hw2sep.report.experiment_plots draws its figures).

May import: every stage below it (training, evaluation, separation, models, data, dsp, report.results, common).
"""
