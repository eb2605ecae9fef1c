"""Checks of the security area: superusers, pg_hba.conf methods, password hashing, TLS,
schemas anyone may create in, and SECURITY DEFINER functions without a fixed search_path.

What a role with only pg_monitor sees:
- superuser_role, ssl_disabled, public_schema_create, security_definer_search_path: everything
  (pg_roles, pg_auth_members, settings, pg_namespace and pg_proc are readable by everyone).
- hba_trust, hba_cleartext_password, hba_file_error: nothing; pg_hba_file_rules (view and
  function) is superuser-only, so they skip with the two GRANTs in HBA_GRANT.
- md5_password: the password_encryption setting, but not the per-role hashes (pg_authid is
  readable by superusers and pg_read_all_data only); it says so in an info problem on
  `pg_authid` instead of skipping, because granting hash access to a monitoring role is
  worse than the gap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from tasks.reviews.database.check import CLUSTER, DATABASE, MAX_PROBLEMS, Check, CheckContext, MissingPrivilege, Problem

HBA_GRANT = "GRANT SELECT ON pg_hba_file_rules TO {role}; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {role}"

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Methods that make the client send its password in clear to the server. `password` always;
# the others are reported only where the line lets the password cross a network unencrypted.
_CLEARTEXT_ALWAYS = {"password"}
_CLEARTEXT_UNLESS_ENCRYPTED = {"ldap", "radius", "pam", "bsd"}


def _truncated(problems: list[Problem], total: int) -> Iterator[Problem]:
    """The first MAX_PROBLEMS problems; the last one says how many were left out."""
    shown = problems[:MAX_PROBLEMS]
    if total > len(shown) and shown:
        shown[-1].details["truncated"] = f"only the first {MAX_PROBLEMS} of {total} are reported"
    yield from shown


# --- superuser_role -----------------------------------------------------------------------


def superuser_roles(ctx: CheckContext) -> Iterator[Problem]:
    # Superuser is not inherited: what counts is being able to SET ROLE to one (PG16 splits
    # that out of membership as the SET option).
    can_become = "SET" if ctx.server_version >= 160000 else "MEMBER"
    rows = ctx.rows(
        """
        SELECT r.rolname, quote_ident(r.rolname) AS quoted, r.rolsuper, r.rolvaliduntil::text AS valid_until,
               v.via, v.via_quoted
        FROM pg_roles r
        CROSS JOIN LATERAL (
            SELECT coalesce(array_agg(s.rolname ORDER BY s.oid = 10 DESC, s.rolname), '{}') AS via,
                   coalesce(array_agg(quote_ident(s.rolname) ORDER BY s.oid = 10 DESC, s.rolname), '{}') AS via_quoted
            FROM pg_roles s
            WHERE NOT r.rolsuper  -- a superuser "is a member" of every role
              AND s.rolsuper AND s.oid <> r.oid AND pg_has_role(r.oid, s.oid, %(can)s)
        ) v
        WHERE r.rolcanlogin AND r.oid <> 10 AND (r.rolsuper OR cardinality(v.via) > 0)
        ORDER BY r.rolsuper DESC, r.rolname
        """,
        {"can": can_become},
    )
    problems = []
    for row in rows:
        role = row["quoted"]
        instead = (
            "grant only what it needs instead: pg_monitor (monitoring), pg_read_all_data / pg_write_all_data "
            "(data access), ownership of its own objects, CREATEDB / CREATEROLE"
        )
        details: dict[str, Any] = {"valid_until": row["valid_until"]}
        if row["rolsuper"]:
            message = (
                f"login role {row['rolname']} is a superuser besides the bootstrap superuser: "
                "it bypasses every permission check and can run programs as the server's OS user"
            )
            remedy = f"ALTER ROLE {role} NOSUPERUSER;  -- {instead}"
        else:
            via = list(row["via"])
            message = (
                f"login role {row['rolname']} can SET ROLE to superuser {via[0]}"
                + (f" (and {len(via) - 1} more)" if len(via) > 1 else "")
                + ": it is a superuser in all but name"
            )
            remedy = " ".join(f"REVOKE {name} FROM {role};" for name in row["via_quoted"]) + f"  -- {instead}"
            details["member_of_superusers"] = via
        problems.append(Problem("warning", row["rolname"], message, remedy, details))
    yield from _truncated(problems, len(problems))


# --- pg_hba.conf --------------------------------------------------------------------------


def _hba_rules(ctx: CheckContext) -> list[dict[str, Any]]:
    """pg_hba.conf as the file on disk says (the server applies it at the next reload)."""
    allowed = ctx.value(
        "SELECT has_table_privilege('pg_catalog.pg_hba_file_rules', 'SELECT')"
        " AND has_function_privilege('pg_catalog.pg_hba_file_rules()', 'EXECUTE')"
    )
    if not allowed:
        raise MissingPrivilege("pg_hba_file_rules (the view and its function) is readable by superusers only")
    # SELECT *: PG16 adds rule_number and file_name (include files); read them where they exist.
    return ctx.rows("SELECT * FROM pg_catalog.pg_hba_file_rules ORDER BY line_number")


def _hba_subject(row: dict[str, Any], hba_file: str | None) -> str:
    name = row.get("file_name")
    if not name or name == hba_file:
        name = "pg_hba.conf"
    return f"{name} line {row['line_number']}"


def address_is_loopback(address: str | None, netmask: str | None) -> bool:
    """Whether a pg_hba.conf address only matches connections from the server's own host."""
    if address is None:
        return True  # local (Unix socket) line
    if address in ("samehost", "localhost"):
        return True
    if address in ("all", "samenet"):
        return False
    try:
        # The view writes the mask out (255.255.255.0, ffff:ffff::); Python takes IPv6 masks
        # only as prefix lengths.
        prefix = bin(int(ipaddress.ip_address(netmask))).count("1") if netmask else None
        network = ipaddress.ip_network(address if prefix is None else f"{address}/{prefix}", strict=False)
    except ValueError:
        return False  # a host or domain name: wherever DNS says
    return any(network.version == lo.version and network.subnet_of(lo) for lo in _LOOPBACK)


def _hba_details(row: dict[str, Any]) -> dict[str, Any]:
    details = {
        "line_number": row["line_number"],
        "type": row["type"],
        "database": list(row["database"] or []),
        "user_name": list(row["user_name"] or []),
        "address": row["address"],
        "netmask": row["netmask"],
        "auth_method": row["auth_method"],
        "options": list(row["options"] or []),
        "note": "as in the file on disk; lines match top-down, the first match decides",
    }
    if row.get("file_name"):
        details["file_name"] = row["file_name"]
    if row["error"]:  # loaded, with a warning (e.g. a hostssl line while ssl = off)
        details["error"] = row["error"]
    return details


def _hba_describe(row: dict[str, Any]) -> str:
    where = "local socket" if row["type"] == "local" else f"{row['type']} {row['address']}"
    if row["netmask"]:
        where += f"/{row['netmask']}"
    return (
        f"{where}, database {','.join(row['database'] or [])}, user {','.join(row['user_name'] or [])}, "
        f"method {row['auth_method']}"
    )


def hba_trust(ctx: CheckContext) -> Iterator[Problem]:
    rows = _hba_rules(ctx)
    hba_file = ctx.setting("hba_file")
    problems = []
    for row in rows:
        if row["auth_method"] != "trust" or row["type"] == "local":
            continue
        loopback = address_is_loopback(row["address"], row["netmask"])
        subject = _hba_subject(row, hba_file)
        who = "any role, the superuser included" if "all" in (row["user_name"] or []) else "the listed roles"
        if loopback:
            message = (
                f"{subject} ({_hba_describe(row)}) lets any user or process on the server's host "
                f"log in as {who} without a password"
            )
        else:
            message = (
                f"{subject} ({_hba_describe(row)}) lets anyone who reaches the server over the network "
                f"log in as {who} without a password"
            )
        problems.append(
            Problem(
                severity="warning" if loopback else "critical",
                subject=subject,
                message=message,
                remedy=f"In {row.get('file_name') or hba_file or 'pg_hba.conf'}, line {row['line_number']}: "
                "change the method from trust to scram-sha-256 (set passwords first), then "
                "SELECT pg_reload_conf();",
                details={**_hba_details(row), "loopback_only": loopback},
            )
        )
    yield from _truncated(problems, len(problems))


def hba_cleartext_password(ctx: CheckContext) -> Iterator[Problem]:
    rows = _hba_rules(ctx)
    hba_file = ctx.setting("hba_file")
    problems = []
    for row in rows:
        method = row["auth_method"]
        # hostssl and hostgssenc lines only accept encrypted connections.
        unencrypted_tcp = row["type"] in ("host", "hostnossl")
        if not (method in _CLEARTEXT_ALWAYS or (method in _CLEARTEXT_UNLESS_ENCRYPTED and unencrypted_tcp)):
            continue
        over_network = unencrypted_tcp and not address_is_loopback(row["address"], row["netmask"])
        subject = _hba_subject(row, hba_file)
        where = "over the network unencrypted" if over_network else "to the server in clear"
        message = f"{subject} ({_hba_describe(row)}) makes clients send their password {where}"
        if method == "password":
            remedy = (
                f"In {row.get('file_name') or hba_file or 'pg_hba.conf'}, line {row['line_number']}: "
                "change the method from password to scram-sha-256, then SELECT pg_reload_conf();"
            )
        else:
            remedy = (
                f"In {row.get('file_name') or hba_file or 'pg_hba.conf'}, line {row['line_number']}: "
                f"change the type from {row['type']} to hostssl ({method} needs the password in clear, "
                "so only TLS protects it; requires ssl = on), then SELECT pg_reload_conf();"
            )
        problems.append(
            Problem(
                severity="critical" if over_network else "warning",
                subject=subject,
                message=message,
                remedy=remedy,
                details={**_hba_details(row), "unencrypted_over_network": over_network},
            )
        )
    yield from _truncated(problems, len(problems))


def hba_file_errors(ctx: CheckContext) -> Iterator[Problem]:
    rows = _hba_rules(ctx)
    hba_file = ctx.setting("hba_file")
    problems = []
    for row in rows:
        if not row["error"]:
            continue
        subject = _hba_subject(row, hba_file)
        file = row.get("file_name") or hba_file or "pg_hba.conf"
        # A line the server could not parse comes back with its method (and all else) null;
        # one it loaded with a warning (hostssl while ssl = off) keeps its fields.
        loaded = row["auth_method"] is not None
        if loaded:
            message = f"{subject} ({_hba_describe(row)}) is loaded but: {row['error']}"
        else:
            message = (
                f"{subject} cannot be parsed ({row['error']}): a reload keeps the old rules "
                'and a restart fails ("could not load pg_hba.conf")'
            )
        problems.append(
            Problem(
                severity="info" if loaded else "warning",
                subject=subject,
                message=message,
                remedy=f"Fix or remove line {row['line_number']} of {file}, check that "
                "SELECT * FROM pg_hba_file_rules WHERE error IS NOT NULL; returns nothing, then SELECT pg_reload_conf();",
                details={"line_number": row["line_number"], "error": row["error"], "loaded": loaded},
            )
        )
    yield from _truncated(problems, len(problems))


# --- md5_password -------------------------------------------------------------------------


def md5_passwords(ctx: CheckContext) -> Iterator[Problem]:
    encryption = ctx.setting("password_encryption")
    readable = ctx.value("SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')")
    hashes_note = (
        "per-role hashes checked in pg_authid"
        if readable
        else "per-role hashes could not be read: pg_authid is readable by superusers (and pg_read_all_data) only"
    )
    # 'on' was an alias of md5 up to PG13.
    if encryption in ("md5", "on"):
        yield Problem(
            severity="warning",
            subject="password_encryption",
            message=f"password_encryption = {encryption}: new and changed passwords are stored as MD5 hashes, "
            "which are password-equivalent for md5 authentication and cheap to brute-force",
            remedy="ALTER SYSTEM SET password_encryption = 'scram-sha-256'; SELECT pg_reload_conf();  "
            "-- then set each role's password again (\\password role)",
            details={"password_encryption": encryption, "role_hashes": hashes_note},
        )
    if not readable:
        yield Problem(
            severity="info",
            subject="pg_authid",
            message="could not list roles whose password is still an MD5 hash (e.g. after pg_upgrade from "
            "PostgreSQL 13 or older): pg_authid is readable by superusers only",
            remedy="As a superuser: SELECT rolname FROM pg_authid WHERE rolpassword LIKE 'md5%';  "
            "-- then SET password_encryption = 'scram-sha-256' and \\password each of them",
            details={"role_hashes": hashes_note, "password_encryption": encryption},
        )
        return
    rows = ctx.rows(
        """
        SELECT rolname, quote_ident(rolname) AS quoted, rolcanlogin, rolsuper, count(*) OVER () AS total
        FROM pg_catalog.pg_authid
        WHERE rolpassword LIKE 'md5%%'
        ORDER BY rolcanlogin DESC, rolsuper DESC, rolname
        LIMIT %s
        """,
        (MAX_PROBLEMS,),
    )
    problems = [
        Problem(
            severity="warning",
            subject=row["rolname"],
            message=f"role {row['rolname']} has an MD5 password hash: it is password-equivalent for md5 "
            "authentication and cheap to brute-force",
            remedy=f"SET password_encryption = 'scram-sha-256'; \\password {row['quoted']}",
            details={"login": row["rolcanlogin"], "superuser": row["rolsuper"], "password_encryption": encryption},
        )
        for row in rows
    ]
    yield from _truncated(problems, rows[0]["total"] if rows else 0)


# --- ssl_disabled -------------------------------------------------------------------------


def listens_on_loopback_only(listen_addresses: str) -> bool:
    """Whether listen_addresses ('' = Unix sockets only) accepts TCP from this host only."""
    for entry in (part.strip() for part in listen_addresses.split(",")):
        if not entry:
            continue
        if entry == "localhost":
            continue
        try:
            address = ipaddress.ip_address(entry)
        except ValueError:
            return False  # '*' or a host name
        if not address.is_loopback:
            return False
    return True


def ssl_disabled(ctx: CheckContext) -> Iterator[Problem]:
    if ctx.setting("ssl") != "off":
        return
    listen = ctx.setting("listen_addresses") or ""
    local = listens_on_loopback_only(listen)
    if local:
        message = (
            f"ssl = off; the server listens on {listen or 'Unix sockets'} only, "
            "so no connection crosses a network today"
        )
    else:
        message = (
            f"ssl = off while the server listens on {listen}: passwords (for password/ldap/pam), "
            "queries and results cross the network unencrypted"
        )
    yield Problem(
        severity="info" if local else "warning",
        subject="ssl",
        message=message,
        remedy="Install a certificate and key (ssl_cert_file, ssl_key_file), ALTER SYSTEM SET ssl = on; "
        "SELECT pg_reload_conf();  -- then use hostssl lines in pg_hba.conf and sslmode=verify-full in clients",
        details={"ssl": "off", "listen_addresses": listen, "loopback_only": local},
    )


# --- public_schema_create -----------------------------------------------------------------


def public_schema_create(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        """
        SELECT format('%%I', n.nspname) AS schema, n.nspowner::regrole::text AS owner,
               count(*) OVER () AS total
        FROM pg_namespace n
        CROSS JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
        WHERE a.grantee = 0 AND a.privilege_type = 'CREATE'
        ORDER BY n.nspname <> 'public', n.nspname
        LIMIT %s
        """,
        (MAX_PROBLEMS,),
    )
    problems = [
        Problem(
            severity="warning",
            subject=row["schema"],
            message=f"every role (PUBLIC) may create objects in schema {row['schema']} of database {ctx.database}: "
            "one can plant functions or operators that others' unqualified names resolve to (CVE-2018-1058)",
            remedy=f"REVOKE CREATE ON SCHEMA {row['schema']} FROM PUBLIC;  -- grant CREATE to the roles that need it",
            details={"owner": row["owner"]},
        )
        for row in rows
    ]
    yield from _truncated(problems, rows[0]["total"] if rows else 0)


# --- security_definer_search_path ---------------------------------------------------------


def security_definer_search_path(ctx: CheckContext) -> Iterator[Problem]:
    rows = ctx.rows(
        """
        SELECT format('%%I.%%I(%%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) AS routine,
               p.prokind, p.proowner::regrole::text AS owner, o.rolsuper AS owner_superuser,
               has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
               count(*) OVER () AS total
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_roles o ON o.oid = p.proowner
        WHERE p.prosecdef
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\\_path=%%')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
        ORDER BY o.rolsuper DESC, 1
        LIMIT %s
        """,
        (MAX_PROBLEMS,),
    )
    problems = []
    for row in rows:
        kind = "PROCEDURE" if row["prokind"] == "p" else "FUNCTION"
        problems.append(
            Problem(
                severity="warning",
                subject=row["routine"],
                message=f"SECURITY DEFINER {kind.lower()} {row['routine']} runs as {row['owner']}"
                + (" (a superuser)" if row["owner_superuser"] else "")
                + " with the caller's search_path: a caller can make its unqualified names resolve to "
                "objects of their own",
                remedy=f"ALTER {kind} {row['routine']} SET search_path = pg_catalog, pg_temp;  "
                "-- schema-qualify what its body uses (or list those schemas before pg_temp)",
                details={
                    "owner": row["owner"],
                    "owner_is_superuser": row["owner_superuser"],
                    "public_can_execute": row["public_execute"],
                },
            )
        )
    yield from _truncated(problems, rows[0]["total"] if rows else 0)


CHECKS: list[Check] = [
    Check(
        name="superuser_role",
        area="security",
        scope=CLUSTER,
        run=superuser_roles,
        summary="A login role other than the bootstrap superuser that is a superuser, or can SET ROLE to one.",
    ),
    Check(
        name="hba_trust",
        area="security",
        scope=CLUSTER,
        run=hba_trust,
        summary="A host* line of pg_hba.conf with method trust: critical beyond loopback, warning on "
        "127.0.0.0/8, ::1, localhost, samehost (local socket lines are not reported).",
        grant=HBA_GRANT,
    ),
    Check(
        name="hba_cleartext_password",
        area="security",
        scope=CLUSTER,
        run=hba_cleartext_password,
        summary="A pg_hba.conf line with method password, or ldap/radius/pam/bsd on a host/hostnossl line: "
        "critical when the password can cross a network unencrypted (non-loopback host/hostnossl).",
        grant=HBA_GRANT,
    ),
    Check(
        name="hba_file_error",
        area="security",
        scope=CLUSTER,
        run=hba_file_errors,
        summary="A pg_hba.conf line the server cannot parse (warning: a reload keeps the old rules, a restart "
        "fails), or loads with a warning such as a hostssl line while ssl = off (info).",
        grant=HBA_GRANT,
    ),
    Check(
        name="md5_password",
        area="security",
        scope=CLUSTER,
        run=md5_passwords,
        summary="password_encryption = md5, and roles whose stored password is an MD5 hash "
        "(listed when pg_authid is readable; otherwise an info problem says it could not be read).",
    ),
    Check(
        name="ssl_disabled",
        area="security",
        scope=CLUSTER,
        run=ssl_disabled,
        summary="ssl = off: warning, or info when listen_addresses is loopback or Unix sockets only.",
    ),
    Check(
        name="public_schema_create",
        area="security",
        scope=DATABASE,
        run=public_schema_create,
        summary="A schema (public or any other) in which PUBLIC has CREATE (the PG14- default of public).",
    ),
    Check(
        name="security_definer_search_path",
        area="security",
        scope=DATABASE,
        run=security_definer_search_path,
        summary="A SECURITY DEFINER function or procedure without SET search_path "
        "(outside pg_catalog/information_schema, not an extension's).",
    ),
]
