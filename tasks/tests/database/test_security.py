"""The security checks on a throwaway cluster: each condition made real (a second superuser,
trust and password lines in pg_hba.conf, MD5 hashes, PUBLIC CREATE, SECURITY DEFINER without
search_path, ssl off), reported; then removed or shown in its negative case, not reported.
And what a role with only pg_monitor gets from each check."""

from __future__ import annotations

import contextlib
import json
import subprocess

import pytest

from tasks.reviews.database import security
from tasks.reviews.database.check import Skip
from tasks.reviews.database.security import address_is_loopback, listens_on_loopback_only
from tasks.tests.database.conftest import admin, check, subjects
from testing.pg_cluster import PgCluster, _as_postgres
from testing.wait import wait_for

WATCHER = "watcher"
HBA_CHECKS = ("hba_trust", "hba_cleartext_password", "hba_file_error")


@pytest.fixture(scope="module")
def cluster():
    cluster = PgCluster().start()
    admin(cluster, f"CREATE ROLE {WATCHER} LOGIN PASSWORD '{cluster.superuser_password}' IN ROLE pg_monitor")
    yield cluster
    cluster.stop()


def as_watcher(cluster, name, **kwargs):
    return check(cluster, name, user=WATCHER, **kwargs)


def by_subject(result):
    assert not isinstance(result, Skip), f"skipped: {result}"
    return {problem.subject: problem for problem in result}


def reload(cluster, alter_system):
    admin(cluster, alter_system)  # ALTER SYSTEM runs alone, outside a transaction block
    admin(cluster, "SELECT pg_reload_conf()")


def setting_in_new_sessions(cluster, name, value):
    """pg_reload_conf() only signals: wait until a new session sees the setting."""

    def seen():
        with cluster.connect() as conn:
            return conn.execute(f"SHOW {name}").fetchone()[0] == value

    wait_for(seen, timeout=10)


@contextlib.contextmanager
def hba_lines(cluster, *lines):
    """Append `lines` to pg_hba.conf and reload; yield their line numbers; restore and reload.
    Appended after initdb's scram-sha-256 lines, they never match first: the cluster stays usable."""
    path = cluster.datadir / "pg_hba.conf"
    original = path.read_text()
    first = len(original.splitlines()) + 1
    with open(path, "a") as fh:  # append: the file keeps its owner (postgres)
        fh.write("".join(line + "\n" for line in lines))
    admin(cluster, "SELECT pg_reload_conf()")
    try:
        yield [f"pg_hba.conf line {first + i}" for i in range(len(lines))]
    finally:
        with open(path, "w") as fh:
            fh.write(original)
        admin(cluster, "SELECT pg_reload_conf()")


# --- superuser_role -----------------------------------------------------------------------


def test_superuser_role_reports_second_superusers_not_the_bootstrap_one(cluster):
    admin(
        cluster,
        'CREATE ROLE boss LOGIN SUPERUSER; CREATE ROLE "Ops Admin" LOGIN SUPERUSER; CREATE ROLE dormant NOLOGIN SUPERUSER;'
        " CREATE ROLE deputy LOGIN; GRANT dormant TO deputy; CREATE ROLE plain LOGIN",
    )
    try:
        found = by_subject(check(cluster, "superuser_role"))
        # Not postgres (oid 10), not the NOLOGIN dormant, not plain.
        assert set(found) == {"boss", "Ops Admin", "deputy"}
        assert found["Ops Admin"].remedy.startswith('ALTER ROLE "Ops Admin" NOSUPERUSER;')
        assert "member_of_superusers" not in found["boss"].details
        assert found["boss"].severity == "warning"
        assert found["boss"].remedy.startswith("ALTER ROLE boss NOSUPERUSER;")
        assert "pg_monitor" in found["boss"].remedy
        assert found["deputy"].details["member_of_superusers"] == ["dormant"]
        assert found["deputy"].remedy.startswith("REVOKE dormant FROM deputy;")
        # pg_roles and role membership are public: a pg_monitor role sees the same.
        assert subjects(as_watcher(cluster, "superuser_role")) == {"boss", "Ops Admin", "deputy"}

        admin(cluster, 'ALTER ROLE boss NOSUPERUSER; ALTER ROLE "Ops Admin" NOSUPERUSER; REVOKE dormant FROM deputy')
        assert subjects(check(cluster, "superuser_role")) == set()
    finally:
        admin(cluster, 'DROP ROLE boss; DROP ROLE "Ops Admin"; DROP ROLE dormant; DROP ROLE deputy; DROP ROLE plain')


# --- pg_hba.conf --------------------------------------------------------------------------


def test_hba_trust_reports_tcp_trust_lines_by_reach(cluster):
    with hba_lines(
        cluster,
        "host    all     all     127.0.0.1/32    trust",
        "host    sales   app     0.0.0.0/0       trust",
        "local   all     all                     trust",
        "host    all     all     samehost        trust",
        "host    all     all     db.example.com  trust",
        "host    all     all     10.0.0.0/8      scram-sha-256",
    ) as (loopback, anywhere, local, samehost, named, scram):
        found = by_subject(check(cluster, "hba_trust"))
        assert set(found) == {loopback, anywhere, samehost, named}  # not the local socket line, not scram
        assert found[named].severity == "critical"  # wherever DNS says
        assert found[loopback].severity == "warning"
        assert found[samehost].severity == "warning"
        assert found[anywhere].severity == "critical"
        assert "database sales, user app" in found[anywhere].message
        assert "as the listed roles without a password" in found[anywhere].message
        assert "as any role, the superuser included" in found[loopback].message
        assert found[anywhere].details["address"] == "0.0.0.0"
        assert found[anywhere].details["auth_method"] == "trust"
        assert "scram-sha-256" in found[anywhere].remedy and "pg_reload_conf()" in found[anywhere].remedy
        with cluster.connect(user=WATCHER) as conn:  # still usable: scram-sha-256 matches first
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert subjects(check(cluster, "hba_trust")) == set()  # initdb -A scram-sha-256: no trust


def test_hba_cleartext_password_reports_password_method_and_unencrypted_pam(cluster):
    with hba_lines(
        cluster,
        "host    all     all     10.0.0.0/8      password",
        "local   all     all                     password",
        "host    all     all     192.168.0.0/16  pam",
        "host    all     all     ::1/128         pam",
        "host    all     all     172.16.0.0/12   md5",
    ) as (network, local, pam_network, pam_loopback, md5):
        found = by_subject(check(cluster, "hba_cleartext_password"))
        assert set(found) == {network, local, pam_network, pam_loopback}  # md5 sends no password
        assert found[network].severity == "critical"
        assert found[pam_network].severity == "critical"
        assert found[local].severity == "warning"
        assert found[pam_loopback].severity == "warning"
        assert "from password to scram-sha-256" in found[network].remedy
        assert "to hostssl" in found[pam_network].remedy
    assert subjects(check(cluster, "hba_cleartext_password")) == set()


def test_hba_file_error_reports_broken_lines_and_lines_loaded_with_a_warning(cluster):
    with hba_lines(
        cluster,
        "host    all     all     127.0.0.1/32    no-such-method",
        "hostssl all     all     0.0.0.0/0       trust",
    ) as (broken, ssl_only):
        found = by_subject(check(cluster, "hba_file_error"))
        assert set(found) == {broken, ssl_only}
        assert found[broken].severity == "warning"
        assert "no-such-method" in found[broken].details["error"]
        assert "restart fails" in found[broken].message
        # ssl = off: the hostssl line is loaded but cannot match (yet).
        assert found[ssl_only].severity == "info"
        assert found[ssl_only].details["error"] == "hostssl record cannot match because SSL is disabled"
        # The broken line is no trust line; the hostssl one is, waiting for ssl = on.
        trust = by_subject(check(cluster, "hba_trust"))
        assert set(trust) == {ssl_only}
        assert trust[ssl_only].severity == "critical"
        assert trust[ssl_only].details["error"] == "hostssl record cannot match because SSL is disabled"
        # The reload kept the old rules: the cluster is usable.
        with cluster.connect(user=WATCHER) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert subjects(check(cluster, "hba_file_error")) == set()


def test_hba_checks_skip_for_pg_monitor_with_their_grants_then_run(cluster):
    expected = "GRANT SELECT ON pg_hba_file_rules TO watcher; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO watcher"
    with hba_lines(cluster, "host all all 127.0.0.1/32 trust", "host all all 127.0.0.1/32 password") as (t, p):
        for name in HBA_CHECKS:
            skipped = as_watcher(cluster, name)
            assert isinstance(skipped, Skip), name
            assert "superusers only" in skipped.reason
            assert skipped.grant == expected
        admin(cluster, skipped.grant)
        try:
            assert subjects(as_watcher(cluster, "hba_trust")) == {t}
            assert subjects(as_watcher(cluster, "hba_cleartext_password")) == {p}
            assert subjects(as_watcher(cluster, "hba_file_error")) == set()
        finally:
            admin(
                cluster,
                "REVOKE SELECT ON pg_hba_file_rules FROM watcher;"
                " REVOKE EXECUTE ON FUNCTION pg_hba_file_rules() FROM watcher",
            )


def test_loopback_addresses():
    assert address_is_loopback("127.0.0.1", "255.255.255.255")
    assert address_is_loopback("127.0.0.0", "255.0.0.0")
    assert address_is_loopback("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert address_is_loopback("localhost", None)
    assert not address_is_loopback("0.0.0.0", "0.0.0.0")
    assert not address_is_loopback("::", "::")
    assert not address_is_loopback("127.0.0.0", "0.0.0.0")  # 0.0.0.0/0 written from 127.0.0.0
    assert not address_is_loopback("all", None)
    assert not address_is_loopback("samenet", None)
    assert not address_is_loopback(".example.com", None)


# --- md5_password -------------------------------------------------------------------------


def test_md5_password_reports_the_setting_and_md5_hashes(cluster):
    reload(cluster, "ALTER SYSTEM SET password_encryption = 'md5'")
    setting_in_new_sessions(cluster, "password_encryption", "md5")
    admin(
        cluster,
        "SET password_encryption = 'md5'; CREATE ROLE legacy LOGIN PASSWORD 'old-pw';"
        " SET password_encryption = 'scram-sha-256'; CREATE ROLE modern LOGIN PASSWORD 'new-pw'",
    )
    try:
        found = by_subject(check(cluster, "md5_password"))
        assert set(found) == {"password_encryption", "legacy"}  # not modern, not postgres (scram)
        assert found["password_encryption"].severity == "warning"
        assert "scram-sha-256" in found["password_encryption"].remedy
        assert found["legacy"].severity == "warning"
        assert found["legacy"].remedy == "SET password_encryption = 'scram-sha-256'; \\password legacy"

        # pg_monitor: the setting, and an info problem saying the hashes could not be read.
        seen = by_subject(as_watcher(cluster, "md5_password"))
        assert set(seen) == {"password_encryption", "pg_authid"}
        assert seen["pg_authid"].severity == "info"
        assert "could not be read" in seen["password_encryption"].details["role_hashes"]

        reload(cluster, "ALTER SYSTEM RESET password_encryption")
        setting_in_new_sessions(cluster, "password_encryption", "scram-sha-256")
        admin(cluster, "ALTER ROLE legacy PASSWORD 'new-pw'")
        assert subjects(check(cluster, "md5_password")) == set()
        assert subjects(as_watcher(cluster, "md5_password")) == {"pg_authid"}
    finally:
        admin(cluster, "DROP ROLE legacy; DROP ROLE modern")


# --- ssl_disabled -------------------------------------------------------------------------


def test_ssl_off_on_loopback_only_is_info(cluster):
    # PgCluster's default: ssl off, listen_addresses = '127.0.0.1'.
    found = by_subject(check(cluster, "ssl_disabled"))
    assert set(found) == {"ssl"}
    assert found["ssl"].severity == "info"
    assert subjects(as_watcher(cluster, "ssl_disabled")) == {"ssl"}  # pg_monitor reads settings


def test_ssl_off_on_all_interfaces_is_warning_and_ssl_on_is_not_reported():
    other = PgCluster(settings={"listen_addresses": "'*'"}).start()
    try:
        found = by_subject(check(other, "ssl_disabled"))
        assert set(found) == {"ssl"}
        assert found["ssl"].severity == "warning"
        assert "ssl = on" in found["ssl"].remedy

        cert, key = other.datadir / "server.crt", other.datadir / "server.key"
        subprocess.run(
            _as_postgres(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
                + ["-keyout", str(key), "-out", str(cert)]
            ),
            check=True,
            capture_output=True,
            timeout=60,
        )
        reload(other, "ALTER SYSTEM SET ssl = on")
        setting_in_new_sessions(other, "ssl", "on")
        assert subjects(check(other, "ssl_disabled")) == set()
    finally:
        other.stop()


def test_listen_addresses_loopback_only():
    assert listens_on_loopback_only("")
    assert listens_on_loopback_only("localhost")
    assert listens_on_loopback_only("127.0.0.1, ::1")
    assert not listens_on_loopback_only("*")
    assert not listens_on_loopback_only("127.0.0.1,10.1.2.3")
    assert not listens_on_loopback_only("db.example.com")


# --- public_schema_create -----------------------------------------------------------------


def test_public_schema_create_reports_schemas_public_may_create_in(cluster):
    admin(cluster, "CREATE DATABASE other")
    # PG15: the public schema no longer grants CREATE to PUBLIC.
    assert subjects(check(cluster, "public_schema_create")) == set()
    admin(
        cluster,
        "GRANT CREATE ON SCHEMA public TO PUBLIC; CREATE SCHEMA open; GRANT CREATE ON SCHEMA open TO PUBLIC;"
        ' CREATE SCHEMA "Team"; CREATE ROLE team; GRANT CREATE ON SCHEMA "Team" TO team',
    )
    try:
        found = by_subject(check(cluster, "public_schema_create"))
        assert set(found) == {"public", "open"}  # not "Team": CREATE granted to one role only
        assert found["public"].severity == "warning"
        assert found["public"].remedy.startswith("REVOKE CREATE ON SCHEMA public FROM PUBLIC;")
        assert subjects(as_watcher(cluster, "public_schema_create")) == {"public", "open"}
        assert subjects(check(cluster, "public_schema_create", dbname="other")) == set()  # per database

        admin(cluster, "REVOKE CREATE ON SCHEMA public FROM PUBLIC; REVOKE CREATE ON SCHEMA open FROM PUBLIC")
        assert subjects(check(cluster, "public_schema_create")) == set()
    finally:
        admin(cluster, 'DROP SCHEMA open; DROP SCHEMA "Team"; DROP ROLE team')
        admin(cluster, "DROP DATABASE other")


# --- security_definer_search_path ---------------------------------------------------------


def test_security_definer_without_search_path(cluster):
    admin(
        cluster,
        """
        CREATE FUNCTION public."Elevated"(a int, b text) RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        CREATE PROCEDURE public.elevated_proc() LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        CREATE FUNCTION public.pinned() RETURNS int LANGUAGE sql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS 'SELECT 1';
        CREATE FUNCTION public.invoker() RETURNS int LANGUAGE sql AS 'SELECT 1';
        CREATE FUNCTION public.extensions_own() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        ALTER EXTENSION plpgsql ADD FUNCTION public.extensions_own();
        """,
    )
    try:
        elevated, proc = 'public."Elevated"(a integer, b text)', "public.elevated_proc()"
        found = by_subject(check(cluster, "security_definer_search_path"))
        assert set(found) == {elevated, proc}  # not pinned, not invoker, not the extension's
        assert found[elevated].severity == "warning"
        assert found[elevated].remedy.startswith(f"ALTER FUNCTION {elevated} SET search_path = pg_catalog, pg_temp;")
        assert found[proc].remedy.startswith(f"ALTER PROCEDURE {proc} SET search_path")
        assert found[elevated].details == {"owner": "postgres", "owner_is_superuser": True, "public_can_execute": True}
        assert subjects(as_watcher(cluster, "security_definer_search_path")) == {elevated, proc}

        admin(cluster, f"ALTER FUNCTION {elevated} SET search_path = pg_catalog, pg_temp")
        assert subjects(check(cluster, "security_definer_search_path")) == {proc}
    finally:
        admin(
            cluster,
            """
            ALTER EXTENSION plpgsql DROP FUNCTION public.extensions_own();
            DROP FUNCTION public.extensions_own(); DROP FUNCTION public."Elevated"(int, text);
            DROP PROCEDURE public.elevated_proc(); DROP FUNCTION public.pinned(); DROP FUNCTION public.invoker();
            """,
        )


# --- all of them --------------------------------------------------------------------------


def test_every_security_check_runs_and_its_details_are_json(cluster):
    """As the superuser and as pg_monitor: each check runs (or skips with a GRANT) and what it
    reports can be stored."""
    admin(cluster, "CREATE ROLE extra LOGIN SUPERUSER; GRANT CREATE ON SCHEMA public TO PUBLIC")
    try:
        with hba_lines(cluster, "host all all 0.0.0.0/0 trust", "host all all 0.0.0.0/0 password"):
            for user in (None, WATCHER):
                for check_ in security.CHECKS:
                    kwargs = {"user": user} if user else {}
                    result = check(cluster, check_.name, **kwargs)
                    if isinstance(result, Skip):
                        assert user == WATCHER and check_.name in HBA_CHECKS, (check_.name, result)
                        continue
                    for problem in result:
                        assert problem.severity in ("info", "warning", "critical")
                        assert problem.subject and problem.message and problem.remedy
                        json.dumps(problem.details)
    finally:
        admin(cluster, "DROP ROLE extra; REVOKE CREATE ON SCHEMA public FROM PUBLIC")
