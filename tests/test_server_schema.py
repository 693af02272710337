"""The server's OpenAPI document says what the server does: schemathesis generates requests
from it (a bounded number per operation) against a running `vocalize serve`, and every
response must conform (no 5xx, only documented status codes and content types, bodies that
match their schemas, schema-valid input accepted)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
hypothesis = pytest.importorskip("hypothesis")

from server_process import running_server  # noqa: E402

pytestmark = pytest.mark.slow

# Short inputs keep each generated request's synthesis short.
MAX_INPUT_CHARS = 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("schema"), "--workers", "2", "--queue", "8", "--max-input-chars", str(MAX_INPUT_CHARS)) as srv:
        yield srv


def test_the_schema_carries_the_input_limits(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json").raw_schema
    body = schema["components"]["schemas"]["SpeechRequest"]["properties"]["input"]
    assert (body["minLength"], body["maxLength"]) == (1, MAX_INPUT_CHARS)
    metrics = schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    assert "404" in schema["paths"]["/v1/models/{model_id}"]["get"]["responses"]


def test_every_response_conforms_to_the_schema(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    failures: list[str] = []
    for operation in schema.get_all_operations():
        operation = operation.ok()

        @hypothesis.settings(
            max_examples=12,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @hypothesis.given(case=operation.as_strategy())
        def run(case) -> None:
            case.call_and_validate(base_url=server.url, timeout=120)

        try:
            run()
        except Exception as e:  # noqa: BLE001  collected, reported together
            failures.append(f"{operation.label}: {e}")
    assert not failures, "\n\n".join(failures)
