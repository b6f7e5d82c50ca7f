"""What notebooks/06_where_flows_fit.ipynb shows and checks."""
