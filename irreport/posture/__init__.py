"""The weekly posture report: fleet-wide queries, headline figures, week-over-week change.

Collect the `report: posture` queries of the pack once for the report's week and once for the
week before, turn the rows into figures (`figures`), compare them with the summary the previous
run stored (`summary`), draw the charts (`charts`) and write the report folder (`report`).
"""
