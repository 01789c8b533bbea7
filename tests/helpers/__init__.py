"""What tests share (the output grammar, side-by-side comparison, damaged fixtures, drp's
sites and runs): none of them is a test module."""
