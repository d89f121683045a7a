"""What rla runs against: the inference server behind an endpoint (`probe`) and local GGUF
model files (`gguf`)."""
