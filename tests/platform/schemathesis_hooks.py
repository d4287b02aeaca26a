"""The contract's unstated rules for a black-box run of the schemathesis command line:

    SCHEMATHESIS_HOOKS=tests.platform.schemathesis_hooks st run --checks all \\
        http://127.0.0.1:8000/openapi.json -H "Authorization: Bearer …"

(from the repository root). Failures the rules in ``contract_rules.py`` explain are dropped,
exactly as in ``test_schemathesis*.py``; run without it to see them all.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.platform.contract_rules import ContractRules

_rules = ContractRules()


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    return _rules.filter_failure(failure, case, response)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    _rules.after_call(case, response)
