"""Export of the Balaitous networks (lungmask U-Net, two iBOT ViTs) and heads to ONNX and JSON."""
