"""The lava-server binary as an administrator uses it: libpq environment,
settings file, exit codes, and the refusal of an unknown schema."""

import json

from conftest import SCHEMA_VERSION, lava_server, psql


def test_done_when_scenario_through_the_real_binary(database):
    # No --database: libpq's PGHOST/PGPORT/PGUSER/PGDATABASE apply, as for psql.
    r = lava_server(database, "manage", "migrate")
    assert r.code == 0, r.err
    assert "Applied migration 0001 (initial)" in r.out
    assert lava_server(database, "manage", "device-types", "add", "qemu").code == 0
    r = lava_server(database, "manage", "workers", "add", "w1")
    assert r.code == 0 and r.out.startswith("Token: ")
    r = lava_server(database, "manage", "devices", "add", "qemu01", "--device-type", "qemu",
                    "--worker", "w1")
    assert r.code == 0, r.err
    r = lava_server(database, "manage", "devices", "list")
    assert r.code == 0
    lines = r.out.splitlines()
    assert lines[0].split() == ["HOSTNAME", "DEVICE", "TYPE", "STATE", "HEALTH", "WORKER", "TAGS",
                                "CURRENT", "JOB"]
    assert lines[1].split() == ["qemu01", "qemu", "Idle", "Good", "w1", "-"]
    devices = json.loads(lava_server(database, "manage", "devices", "list", "--json").out)
    assert [d["hostname"] for d in devices] == ["qemu01"]


def test_refuses_a_schema_newer_than_it_knows(database):
    assert lava_server(database, "manage", "migrate").code == 0
    psql(database, "INSERT INTO lava_schema_migrations (version, name, checksum) "
                   "VALUES (42, 'from_the_future', 'x')")
    r = lava_server(database, "manage", "devices", "list")
    assert r.code == 1
    assert r.out == ""
    assert r.err.count("\n") == 1
    assert "database schema is at version 42, newer than the %d that lava-server knows" % SCHEMA_VERSION in r.err


def test_refuses_an_unmigrated_database(database):
    r = lava_server(database, "manage", "status")
    assert r.code == 1
    assert "run 'lava-server manage migrate'" in r.err


def test_settings_file_and_environment(database, tmp_path):
    conninfo = "host=%s port=%s user=%s dbname=%s" % (
        database["PGHOST"], database["PGPORT"], database["PGUSER"], database["PGDATABASE"])
    settings = tmp_path / "settings.yaml"
    settings.write_text("database: '%s'\nlog_format: json\n" % conninfo)
    # Only the settings file says where the database is.
    r = lava_server({}, "--settings", str(settings), "manage", "migrate")
    assert r.code == 0, r.err
    r = lava_server({}, "manage", "status", "--json", extra_env={"LAVA_SETTINGS": str(settings)})
    assert r.code == 0, r.err
    assert json.loads(r.out)["schema_version"] == SCHEMA_VERSION
    # An explicit file that does not exist is an error; so is a bad value.
    r = lava_server({}, "--settings", str(tmp_path / "missing.yaml"), "manage", "status")
    assert r.code == 2
    assert "does not exist" in r.err
    r = lava_server({}, "--settings", str(settings), "--log-format", "xml", "manage", "status")
    assert r.code == 2
    assert "'xml' is not one of: text, json" in r.err


def test_usage_errors_exit_2_and_help_exits_0(database):
    r = lava_server(database, "manage", "devices", "add", "x")
    assert r.code == 2
    assert "--device-type is required" in r.err or "required" in r.err
    r = lava_server(database, "--help")
    assert r.code == 0 and "manage" in r.out
    r = lava_server(database, "--version")
    assert r.code == 0 and "2023.01" in r.out
