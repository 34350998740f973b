"""Post-training quantization of a float model for int8 / fixed training:
scales from the maths (scales.py), activation ranges from data
(calibrate.py), integer initial values for the int8 graph (ptq.py)."""
