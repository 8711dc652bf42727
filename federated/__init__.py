"""Federated learning of the risk-preference model across the departments (README.md,
"Federated learning"). The modules here import no Flower and run in either environment;
``federated/app`` holds the Flower apps, which run only in ``.venv-fl``."""
