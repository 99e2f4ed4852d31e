"""Stage 6, export: the checkpoint for other runtimes (ONNX for transformers.js and phones), with reference loops."""
