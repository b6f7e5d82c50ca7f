"""What notebooks/08_flows_on_images.ipynb shows and checks."""
