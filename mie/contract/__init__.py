"""The contract: spec/openapi.yaml and its dictionaries, loaded as a value (`Contract`).

This package imports nothing else of mie (a rule `lint-imports` checks in `tox -e lint`).
"""

from mie.contract.spec import Contract, Transaction, current

__all__ = ["Contract", "Transaction", "current"]
