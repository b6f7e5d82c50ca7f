"""What notebooks/04_coupling_layers.ipynb shows and checks."""
