"""What the suite does when a service it needs is missing (tests/services.py,
tests/conftest.py): outside CI, a test that needs it is skipped with the reason
and the rest run; with CI=true, it fails the run.

The hooks themselves are seen at work by running tests/services_probe.py in a
pytest of its own, with the environment a person would have.
"""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests import services
from tests.servers import ROOT, free_port

# --- The helpers ----------------------------------------------------------------


def test_redis_problem_names_a_closed_port():
    url = f"redis://127.0.0.1:{free_port()}/0"

    problem = services.redis_problem(url)

    assert problem is not None
    assert problem.startswith(f"Redis is not reachable at {url}")


def test_redis_problem_names_a_url_that_is_not_redis():
    assert "is not a Redis URL" in services.redis_problem("http://127.0.0.1:6379/0")


def test_redis_problem_is_none_for_a_redis_that_answers(redis_url):
    assert services.redis_problem(redis_url) is None


@pytest.mark.parametrize(
    ("in_ci", "outcome"),
    [(False, pytest.skip.Exception), (True, pytest.fail.Exception)],
    ids=["outside-ci-skips", "in-ci-fails"],
)
def test_a_postgres_test_on_another_database_is_a_missing_service(
    in_ci, outcome, monkeypatch
):
    monkeypatch.setattr(services, "IN_CI", in_ci)

    with pytest.raises(outcome, match="needs PostgreSQL.*sqlite3"):
        services.require_postgres("django.db.backends.sqlite3")
    # On PostgreSQL it runs.
    assert services.require_postgres(services.POSTGRESQL) is None


# --- The hooks, in a run of their own ------------------------------------------------


def run_probes(tmp_path, **environ) -> dict[str, tuple[str, str]]:
    """Run tests/services_probe.py in a pytest of its own, with DATABASE_URL,
    REDIS_URL and CI as given here (unset otherwise): each probe's outcome
    (passed, skipped or failed) and its message."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"CI", "DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS"}
    }
    env.update(DJANGO_DEBUG="1", **environ)
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            "tests/services_probe.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert report.exists(), run.stdout + run.stderr
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in {"skipped", "failure", "error"}:
                outcome = "skipped" if child.tag == "skipped" else "failed"
                message = (child.get("message") or "") + (child.text or "")
        outcomes[case.get("name")] = (outcome, message)
    return outcomes


@pytest.mark.timeout(120)
def test_outside_ci_an_unreachable_redis_skips_what_needs_it_and_runs_the_rest(
    tmp_path,
):
    closed = f"redis://127.0.0.1:{free_port()}/0"

    outcomes = run_probes(tmp_path, REDIS_URL=closed)

    assert outcomes["test_needs_no_service"][0] == "passed"
    # The embedded cache and layer stand in for the unreachable Redis.
    assert outcomes["test_uses_the_database_and_the_cache"][0] == "passed"
    outcome, message = outcomes["test_needs_redis"]
    assert outcome == "skipped"
    assert f"Redis is not reachable at {closed}" in message
    # No DATABASE_URL: the embedded SQLite, so the PostgreSQL test skips.
    outcome, message = outcomes["test_needs_postgres"]
    assert outcome == "skipped"
    assert "needs PostgreSQL" in message


@pytest.mark.timeout(120)
def test_in_ci_an_unreachable_redis_fails_every_test_with_the_reason(tmp_path):
    closed = f"redis://127.0.0.1:{free_port()}/0"

    outcomes = run_probes(tmp_path, REDIS_URL=closed, CI="true")

    assert len(outcomes) == 4
    for name, (outcome, message) in outcomes.items():
        assert outcome == "failed", name
        assert f"Redis is not reachable at {closed}" in message, name
