"""Prefect 3 flows, deployments and serving over lvae/, pipeline/ and envs/ (the only package importing prefect).

Modules: ``steps`` and ``walk_forward`` (plain building blocks), ``tasks`` (them as tasks), ``flows`` (the five
flows), ``artifacts`` (results -> Markdown / tables / links), ``deployments`` and ``serve`` (``python -m
flows.serve``). Nothing is imported here, so ``import flows`` stays cheap and free of Prefect.
"""
