"""The wire contract in proto/: every golden example is valid (or invalid)
under its JSON Schema, as its name says; log-line examples are LAVA's own
bytes (PyYAML's dump) and parse to valid records. The C++ types are checked
against the same examples by unit_tests (ProtoGolden.*), and the live
server's replies against the schemas by test_worker_api.py."""

import glob
import json
import os

import jsonschema
import pytest
import yaml

from conftest import SOURCE_DIR

PROTO = os.path.join(SOURCE_DIR, "proto")


def schemas():
    return sorted(glob.glob(os.path.join(PROTO, "*", "*.schema.json")))


def examples(schema_path):
    family = os.path.dirname(schema_path)
    message = os.path.basename(schema_path)[: -len(".schema.json")]
    return sorted(glob.glob(os.path.join(family, "examples", message, "*")))


def load_example(path):
    if path.endswith(".line"):
        with open(path) as f:
            text = f.read()
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError:
            return None
        # A log line is a one-item YAML sequence: "- {...}".
        return doc[0] if isinstance(doc, list) and len(doc) == 1 else None
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("schema_path", schemas(), ids=lambda p: os.path.relpath(p, PROTO))
def test_examples_match_their_schema(schema_path):
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    found = examples(schema_path)
    assert any(os.path.basename(p).startswith("valid") for p in found), "no valid example"
    assert any(os.path.basename(p).startswith("invalid") for p in found), "no invalid example"
    for path in found:
        doc = load_example(path)
        errors = list(validator.iter_errors(doc)) if doc is not None else ["not YAML"]
        if os.path.basename(path).startswith("valid"):
            assert not errors, (path, [str(e) for e in errors][:3])
        else:
            assert errors, "%s is valid but named invalid" % path


def test_log_line_examples_are_pyyaml_bytes():
    for path in glob.glob(os.path.join(PROTO, "logs", "examples", "record", "valid-*.line")):
        with open(path) as f:
            line = f.read()
        record = yaml.safe_load(line)[0]
        dumped = yaml.dump(record, Dumper=yaml.CDumper, default_flow_style=True, default_style='"', width=10 ** 6)
        assert "- " + dumped == line, path


def test_event_frames_payloads_match_their_topic():
    with open(os.path.join(PROTO, "events", "examples", "frames", "valid-testjob.json")) as f:
        frames = json.load(f)
    with open(os.path.join(PROTO, "events", "testjob.schema.json")) as f:
        jsonschema.validate(json.loads(frames[4]), json.load(f))
