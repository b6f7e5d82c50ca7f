"""What notebooks/01_change_of_variables_1d.ipynb shows and checks."""
