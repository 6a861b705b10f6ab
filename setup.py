"""For builders that call setup.py (Debian's pybuild): the metadata is in setup.cfg."""
from setuptools import setup

setup()
