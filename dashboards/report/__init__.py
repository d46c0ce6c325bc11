"""The clinician's weekly report: numbers (weekly.py), charts as Vega-Lite specs (charts.py), the printable HTML and
the CSV (render.py)."""
