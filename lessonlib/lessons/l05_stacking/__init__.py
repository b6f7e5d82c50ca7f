"""What notebooks/05_stacking_layers_into_a_flow.ipynb shows and checks."""
