"""What notebooks/03_log_likelihood_and_nll_training.ipynb shows and checks."""
