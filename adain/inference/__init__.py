"""Running a trained network on real inputs: tiled stylisation in bounded memory (`tiling`), video
(`video`, `video_read`, `video_write`, optical `flow`), the edge-aware `guided_filter` of photo
mode, and super-resolution (`superres`).  Imports `adain.nn` and `adain.core`, never methods."""
