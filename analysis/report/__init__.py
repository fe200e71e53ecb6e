"""The report of ``s3t report``: :mod:`~analysis.report.document` (sections and their HTML and
Markdown renderings), :mod:`~analysis.report.sections` (the theory checks) and
:mod:`~analysis.report.build` (runs them and writes the files)."""
