"""The pure rule stands alone: importing the access package and its rule loads no part of airbyte-cdk."""

from unit_tests.standalone import printed_alone


def test_the_rule_imports_nothing_from_airbyte():
    users, loaded = printed_alone(
        "import sys\n"
        "from source_confluence.access.rule import Principals, compute_effective_access\n"
        "view = Principals(users=frozenset({'u1'}), groups=frozenset(), anonymous=False)\n"
        "print(sorted(compute_effective_access(view, [None], {})['users']))\n"
        "print(sorted(m for m in sys.modules if m.startswith(('airbyte_cdk', 'source_confluence.components', 'source_confluence.sync'))))\n"
    )
    assert users == "['u1']"
    assert loaded == "[]"
