"""The clinician's weekly report: numbers (weekly.py), plots (svg.py), the HTML and CSV files (render.py)."""
