"""Analysis of collected results: the process graph and the timeline of the incident."""
