"""What every other sub-package uses and that knows nothing of style transfer: the one-line user
error (`errors`), image files (`io`), devices, precision and process memory (`runtime`), progress
reporting (`progress`).  Imports only the standard library, torch, numpy and Pillow."""
