"""Presentation: result records -> leaderboard rows (leaderboard.py) -> HTML pages (site.py, pages.py) and
figures (plots.py, drawn in the worker pool of workers.py). Reads records; never scores."""
