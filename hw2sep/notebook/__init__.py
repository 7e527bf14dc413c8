"""What the notebooks use: settings (paths and parameters from hw2sep_settings.json or HW2SEP_* variables, the Drive
mirror) and the workspace (run folders, the listening panel, the sample index).

May import: every stage (the notebooks call the same functions as the CLIs).
"""
