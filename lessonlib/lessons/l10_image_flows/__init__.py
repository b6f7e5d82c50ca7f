"""What notebooks/10_how_image_flows_are_built.ipynb shows and checks: ActNorm, 1x1 convolutions, squeeze, multi-scale, variational dequantisation."""
