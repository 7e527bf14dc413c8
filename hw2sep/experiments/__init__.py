"""The optional studies as reproducible experiments: ``study`` reads and checks a study file
(configs/experiments/NAME.json), ``runner`` trains and scores every run with one budget, ``table`` writes its table
(hw2sep.report.experiment_plots draws its figures).

May import: every stage below it (training, evaluation, separation, models, data, dsp, report.results, common).
"""
