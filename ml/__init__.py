"""Pure PyTorch model code. Never imports Django or anything under apps/ (a test checks it)."""
