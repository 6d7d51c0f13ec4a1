"""The benchmark report: bench/results/*.json -> REPORT.md, README_TABLE.md and the plots (*.png).

Run from the repository root:  .venv/bin/python -m bench.report [--results bench/results] [--quick]
(`make bench` runs every benchmark, then this). `__main__` reads the files and orders the sections;
each report section, its plot and its headline rows live in a module of their own.
"""

import matplotlib

# Set here, before any section module imports pyplot: the plots are drawn without a display.
matplotlib.use("Agg")
