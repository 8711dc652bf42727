"""Differentially private statistics over consenting clients, under durable ε budgets.

The only package that imports OpenDP, and the only place client rows are read for
statistics: they enter an OpenDP measurement and leave as aggregates. See README.md here.
"""

from privacy.dp.query import StatQuery
from privacy.dp.service import Preview, Release, StatsService

__all__ = ["Preview", "Release", "StatQuery", "StatsService"]
