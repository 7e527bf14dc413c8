"""What the notebooks and the PDF report use: `notebook` (workspace, settings, listening panel),
`plots` (figures), `slides` (16:9 PDF pages), `text` (the report's generated words and tables) and
`build` (the report itself). They only read result files; none of them trains or separates.
"""
