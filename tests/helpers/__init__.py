"""What tests share: the output grammar, side-by-side comparison, damaged fixtures."""
