"""Verifying prescribed exercises from a trunk sensor's raw samples (issue 19): sit-to-stand repetitions and their
tempo, isometric holds and their steadiness, spinal mobility range, tempo and smoothness, and the breathing reset.
Pure: time comes from the samples; numpy arrays in, frozen dataclasses out. docs/exercises.md gives each detector's
method, source, accuracy and limits.
"""
