"""spec/openapi.yaml itself: all of V1.4's transactions, valid OpenAPI 3.0, examples that obey their schemas."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator

from mie.contract import current

CONTRACT = current()

CHAPTER_2 = {
    "saveExamRpotImgInfo": ("2.1", "application/json"),
    "saveImgFile": ("2.2", "multipart/form-data"),
    "saveImgInfo": ("2.3", "application/json"),
    "saveRptFile": ("2.4", "multipart/form-data"),
    "deleteExamRpotImgIdxInfo": ("2.5", "application/json"),
    "queryExamRpotImgIndxListFHospital": ("2.6", "application/json"),
    "queryImgCaheFIndex": ("2.7/2.8", "application/json"),
}


def test_every_transaction_of_chapter_2_is_in_the_spec() -> None:
    found = {t.infno: (t.section, t.content_type, t.path) for t in CONTRACT.transactions}
    for infno, (section, content_type) in CHAPTER_2.items():
        assert found[infno][:2] == (section, content_type)
        assert found[infno][2] == f"/mie/api/mie/{infno}"
    assert set(CONTRACT.document["paths"]) >= {f"/mie/api/mie/{infno}" for infno in CHAPTER_2}


def test_2_7_and_2_8_are_told_apart_by_service_name() -> None:
    body = CONTRACT.resolved["components"]["schemas"]["QueryImgCaheFIndexRequest"]
    mapping = body["properties"]["input"]["discriminator"]["mapping"]
    assert set(mapping) == {"queryImgCaheFileSn", "queryImgCahe"}


def test_multipart_envelopes_are_request_headers() -> None:
    for infno in ("saveImgFile", "saveRptFile"):
        operation = CONTRACT.document["paths"][f"/mie/api/mie/{infno}"]["post"]
        names = [(p["name"], p["in"]) for p in operation["parameters"]]
        assert names == [(n, "header") for n in ("infno", "msgid", "infTime", "infCode", "key")]


def all_examples() -> list[tuple[str, dict[str, Any], Any]]:
    spec = CONTRACT.resolved
    found = []
    for path, item in spec["paths"].items():
        operation = item["post"]
        contents = [("request", operation["requestBody"]["content"])]
        contents += [(f"response {status}", r.get("content", {})) for status, r in operation["responses"].items()]
        for where, content in contents:
            for media in content.values():
                values = [media["example"]] if "example" in media else [e["value"] for e in media.get("examples", {}).values()]
                found += [(f"{path} {where}", media["schema"], value) for value in values]
    for name, schema in spec["components"]["schemas"].items():
        if "example" in schema:
            found.append((f"components/{name}", schema, schema["example"]))
    return found


EXAMPLES = all_examples()


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_example_obeys_its_schema(where: str, schema: dict[str, Any], example: Any) -> None:
    if "multipart" in where or any(p.get("format") == "binary" for p in schema.get("properties", {}).values()):
        example = {k: v for k, v in example.items() if schema["properties"].get(k, {}).get("format") != "binary"}
        schema = {
            **schema,
            "required": [r for r in schema.get("required", []) if schema["properties"][r].get("format") != "binary"],
        }
    # discriminator mappings name components: give the schema the spec's components to resolve them in
    rooted = {**schema, "components": CONTRACT.resolved["components"]}
    errors = [error.message for error in OAS30Validator(rooted).iter_errors(example)]
    assert errors == []


def test_the_response_examples_cover_every_transaction() -> None:
    covered = {where.split()[0] for where, _, _ in EXAMPLES if "response" in where}
    assert covered == set(CONTRACT.document["paths"])


def every_schema(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += every_schema(value)
    elif isinstance(node, list):
        for value in node:
            found += every_schema(value)
    return found


def test_nullable_only_beside_a_type() -> None:
    """OpenAPI 3.0 gives `nullable` no meaning without `type`; ajv-based tools (Prism) refuse the schema."""
    offending = [s for s in every_schema(CONTRACT.document) if s.get("nullable") and "type" not in s]
    assert offending == []


def test_every_pattern_is_a_valid_ecmascript_unicode_regex() -> None:
    """Vendors' JavaScript tools (ajv, Prism) compile patterns with the `u` flag, which refuses needless escapes."""
    import json
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here; the check needs a JavaScript engine")
    patterns = sorted({s["pattern"] for s in every_schema(CONTRACT.document) if isinstance(s.get("pattern"), str)})
    script = (
        "const ps = JSON.parse(require('fs').readFileSync(0, 'utf8')); const bad = [];"
        "for (const p of ps) { try { new RegExp(p, 'u'); } catch (e) { bad.push(p.slice(0, 80) + ': ' + e.message); } }"
        "console.log(JSON.stringify(bad));"
    )
    result = subprocess.run([node, "-e", script], input=json.dumps(patterns), capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
    assert len(patterns) > 10
