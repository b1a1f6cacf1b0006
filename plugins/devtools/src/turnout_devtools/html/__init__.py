"""The HTML pages of `turnout bench --html FILE` and `turnout chaos --html FILE`, drawn
with core's page and chart helpers (`turnout.reports.html`, the `reports` extra)."""
