"""What notebooks/02_jacobian_determinant_2d.ipynb shows and checks."""
