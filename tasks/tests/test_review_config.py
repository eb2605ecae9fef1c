"""A task's config is checked against its review type's schema when the task is saved."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from connections.tests.factories import ConnectionFactory
from tasks.config_file import ConfigError, apply_config, parse_config
from tasks.models import Severity, Task, review_types
from tasks.reviews.database.catalog import CHECKS, THRESHOLDS
from tasks.reviews.review import ConfigSchema, Option
from tasks.tests.factories import TaskFactory


def test_the_registry_lists_every_implemented_type_by_name():
    assert {name: review.label for name, review in review_types().items()} == {
        "health_check": "Health check",
        "log_analysis": "Log analysis",
        "database_review": "Database review",
    }


SCHEMA = ConfigSchema(
    Option("mode", str, "fast", choices=("fast", "exact")),
    Option("min_mb", int, 100, minimum=0),
    Option("ratio", float, 0.5, minimum=0, maximum=1),
    Option("enabled", bool, True),
)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"mdoe": "fast"}, "unknown key(s) mdoe; valid keys: mode, min_mb, ratio, enabled"),
        ({"mode": "slow"}, "mode must be one of fast, exact, not 'slow'"),
        ({"min_mb": "100"}, "min_mb must be a whole number, not '100'"),
        ({"min_mb": 1.5}, "min_mb must be a whole number, not 1.5"),
        ({"min_mb": True}, "min_mb must be a whole number, not True"),
        ({"min_mb": -1}, "min_mb must be at least 0, not -1"),
        ({"ratio": 2}, "ratio must be at most 1, not 2"),
        ({"enabled": "yes"}, "enabled must be true or false, not 'yes'"),
        ([1, 2], "config must be a JSON object"),
    ],
)
def test_a_schema_names_each_problem(config, problem):
    assert SCHEMA.problems(config) == [problem]


def test_a_schema_fills_in_defaults_and_takes_an_int_where_a_number_is_asked():
    assert SCHEMA.problems({"ratio": 1}) == []
    assert SCHEMA.resolve({"min_mb": 5}) == {"mode": "fast", "min_mb": 5, "ratio": 0.5, "enabled": True}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task_type", "config", "message"),
    [
        ("health_check", {"timeout": 5}, "unknown key(s) timeout; valid keys: none"),
        ("log_analysis", {"slow_query_msec": 100}, "unknown key(s) slow_query_msec; valid keys: source, path"),
        ("log_analysis", {"slow_query_ms": "fast"}, "slow_query_ms must be a number, not 'fast'"),
        ("log_analysis", {"source": "file"}, "the file source needs config path"),
        ("log_analysis", {"source": "file", "path": "/x.log", "log_line_prefix": "%u "}, "has no time"),
        ("database_review", {"checks": ["duplicate_indexes"]}, "unknown check(s) duplicate_indexes; valid checks: "),
        ("database_review", {"thresholds": {"unused_index_mb": 5}}, "unknown threshold(s) unused_index_mb; valid"),
        ("database_review", {"thresholds": {"nope": 1}, "checks": ["x"]}, "unknown check(s) x"),
        ("database_review", {"databases": "every"}, 'databases must be a list of database names or "all"'),
        ("database_review", {"databases": 3}, "databases must be a list or a string, not 3"),
        ("database_review", {"thresholds": []}, "thresholds must be an object of name: value, not []"),
    ],
)
def test_saving_a_task_with_a_bad_config_is_refused(task_type, config, message):
    task = TaskFactory.build(task_type=task_type, config=config, connection=ConnectionFactory())

    with pytest.raises(ValidationError) as error:
        task.full_clean()

    assert message in " ".join(error.value.message_dict["config"])


@pytest.mark.django_db
def test_the_admin_form_refuses_an_unknown_config_key_and_names_the_valid_ones(admin_client):
    connection = ConnectionFactory()
    form = {
        "name": "Nightly logs",
        "task_type": "log_analysis",
        "connection": str(connection.pk),
        "schedule": "0 2 * * *",
        "is_active": "on",
        "timeout_seconds": "600",
        "config": json.dumps({"slow_query": 500}),
        "executions-TOTAL_FORMS": "0",
        "executions-INITIAL_FORMS": "0",
    }

    response = admin_client.post(reverse("admin:tasks_task_add"), form)

    assert response.status_code == 200
    assert "unknown key(s) slow_query; valid keys: source, path, format" in response.content.decode()
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_apply_config_refuses_a_bad_config_naming_the_entry_and_the_field():
    ConnectionFactory(name="Production DB")
    config = parse_config(
        """
tasks:
  - name: Daily Log Analysis
    task_type: log_analysis
    connection: Production DB
    config: {slow_query_ms: fast}
"""
    )

    with pytest.raises(ConfigError) as error:
        apply_config(config)

    assert error.value.errors == ["tasks[0] \"Daily Log Analysis\": config: slow_query_ms must be a number, not 'fast'"]
    assert not Task.objects.exists()


def test_severities_rank_by_how_bad_they_are_not_by_name():
    assert Severity.worst_first() == [Severity.CRITICAL, Severity.WARNING, Severity.INFO]
    assert Severity.at_least("warning") == [Severity.CRITICAL, Severity.WARNING]
    assert Severity.CRITICAL.rank > Severity.WARNING.rank > Severity.INFO.rank


@pytest.mark.django_db
def test_apply_config_refuses_an_unknown_check_and_lists_the_valid_ones():
    ConnectionFactory(name="Production DB")
    config = parse_config(
        """
tasks:
  - name: Nightly review
    task_type: database_review
    connection: Production DB
    config: {checks: [invalid_index, unused_indexes], thresholds: {invalid_index_days: 3}}
"""
    )

    with pytest.raises(ConfigError) as error:
        apply_config(config)

    checks, thresholds = error.value.errors
    assert checks.startswith('tasks[0] "Nightly review": config: unknown check(s) unused_indexes; valid checks: ')
    assert "invalid_index" in checks.split("valid checks: ")[1]
    assert thresholds.startswith('tasks[0] "Nightly review": config: unknown threshold(s) invalid_index_days; valid')
    assert not Task.objects.exists()


def test_every_check_and_threshold_the_catalog_lists_is_accepted():
    config = {"checks": list(CHECKS), "thresholds": dict(THRESHOLDS), "databases": "all"}
    assert review_types()["database_review"].config.problems(config) == []
