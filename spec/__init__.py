"""Declarations of the seed: states, transitions, parameters, errors, requirements."""
