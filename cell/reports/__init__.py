"""Reports from the event log: the job coach's report about one operator and the integrator's cell report.

load         the log rows of a period (the only part that reads files)
summary      rows -> the numbers (pure)
suggestions  the numbers -> concrete suggestions, by fixed rules (pure)
texts, names every word of a report, by key (English; ready for a translation)
plots        the charts (matplotlib, PNG)
page, build  the self-contained HTML page and the folder it is written to
week         a simulated working week for the cell's operator profiles

The commands are in cell/cli_report.py; docs/reports.md explains the reports.
"""
