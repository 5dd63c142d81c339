"""Minsheng (民生): the citizen service platform of a city's service center."""

__version__ = "0.1.0"
