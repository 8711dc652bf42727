"""Tests of the client web portal."""
