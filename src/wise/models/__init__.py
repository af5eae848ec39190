"""Models: WISE (wise.py, with every ablation as a config field) and the paper's baselines."""
