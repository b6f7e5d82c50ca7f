"""What notebooks/09_flows_for_inference.ipynb shows and checks: fitting a density you can only evaluate."""
