"""The HTTP API: OpenAI's ``POST /v1/audio/speech`` and friends, over one warm engine.

Routes: ``POST /v1/audio/speech``, ``POST /dev/captioned_speech`` (Kokoro-FastAPI's audio
with word timestamps), ``GET /v1/audio/voices``, ``GET /v1/models``,
``GET /health``, ``GET /status``, ``GET /metrics``, ``GET /openapi.json`` (and ``/docs``).
Errors are JSON in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import hmac
import logging
import re
import threading
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Literal, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..assets.models import DEFAULT_VOICE, default_model
from ..engine import MAX_SPEED, MIN_SPEED
from ..errors import InputError, VocalizeError, VoiceError
from .. import encoders
from .admission import Admission, Busy
from .jobs import CANCELLED, DATA, END, ERROR, Job
from .metrics import Metrics

if TYPE_CHECKING:
    from ..engine import Engine

log = logging.getLogger("vocalize.server")

MODEL_ID = "kokoro"
# The tiny tier (vocalize.tiny): `"model": "tiny"`.
TINY_MODEL_ID = "tiny"
# Model names OpenAI clients send; all of them are the Kokoro model.
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MODEL_IDS = (MODEL_ID, TINY_MODEL_ID, *MODEL_ALIASES)
# OpenAI's voice names speak with the server's default voice, so OpenAI clients work as is.
OPENAI_VOICES = (
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage", "shimmer", "verse",
)
# A voice in a request: a name, or a blend of names with weights; never a path.
from ..assets.voice_store import VOICE_NAME, VOICE_SPEC, blend_grammar  # noqa: E402


@dataclasses.dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8880
    workers: int = 8
    queue: int = 8
    queue_timeout: float = 60.0
    max_input_chars: int = 4096
    api_key: str | None = None
    threads: int | None = None
    # The model warmed at start-up ("kokoro" or "tiny"); the other loads with its first request.
    model: str = MODEL_ID

    @property
    def max_body_bytes(self) -> int:
        """JSON escapes make a character up to 6 bytes (``\\uXXXX``), plus room for the rest."""
        return 16_384 + 6 * self.max_input_chars


# The shortest input: one character. Something to speak: an ASCII letter or digit (input of
# symbols, marks or control characters alone, or of letters the English frontend has no
# reading for, has nothing to speak, which the schema could not otherwise tell).
MIN_INPUT_CHARS = 1
SPEAKABLE = r"[A-Za-z0-9]"


class SpeechRequest(BaseModel):
    """The body of ``POST /v1/audio/speech``. Its ``input`` limits depend on the server's
    settings: :func:`speech_request` makes the class one app validates and documents with."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(
        MODEL_ID,
        description=f"`{MODEL_ID}` (or one of OpenAI's names for it: {', '.join(MODEL_ALIASES)}), or `{TINY_MODEL_ID}`: "
        "the tiny model, with its own voices (heart, emma, fable, fenrir, kore).",
        json_schema_extra={"enum": list(MODEL_IDS)},
    )
    input: str = Field(description="The text to speak.")
    voice: Union[str, dict[str, str]] = Field(
        DEFAULT_VOICE,
        description="A voice from GET /v1/audio/voices, a blend such as `jm_kumo:0.7+jf_alpha:0.3`, or an OpenAI "
        "voice name (alloy, echo, …), which speaks with the default voice. `{\"id\": name}` is accepted too.",
    )
    response_format: str = Field(
        "mp3",
        description=f"One of: {', '.join(encoders.FORMATS)}. `pcm` is 16-bit LE 24 kHz mono.",
        json_schema_extra={"enum": list(encoders.FORMATS)},
    )
    speed: float = Field(1.0, ge=MIN_SPEED, le=MAX_SPEED, description=f"Speaking rate, {MIN_SPEED} to {MAX_SPEED}.")
    instructions: str | None = Field(None, description="Accepted for compatibility and ignored.")
    stream_format: Literal["audio"] = Field("audio", description="Only `audio` (the bytes, streamed) is supported.")


class CaptionedSpeechRequest(SpeechRequest):
    """The body of ``POST /dev/captioned_speech``: Kokoro-FastAPI's fields (its
    ``lang_code``, ``volume_multiplier``, ``normalization_options`` and
    ``return_download_link`` are accepted and ignored)."""

    stream: bool = Field(True, description="Send a JSON object per piece of audio as it is made (one per line), else one object at the end.")
    return_timestamps: bool = Field(True, description="Give the words' times (`timestamps`).")


class WordTimestamp(BaseModel):
    word: str = Field(description="The word as written in the input.")
    start_time: float = Field(description="When it starts, in seconds from the start of the audio.")
    end_time: float = Field(description="When it ends, in seconds.")


class CaptionedSpeechResponse(BaseModel):
    """Kokoro-FastAPI's captioned speech: audio and when each word is spoken. Streamed, each
    line is one such object: its ``audio`` continues the file (the pieces' bytes joined are
    one file) and its timestamps are the words of that piece, timed from the start."""

    audio: str = Field(description="The audio bytes, base64.")
    audio_format: str = Field(description="The audio's media type.")
    timestamps: list[WordTimestamp] | None = Field(description="The words' times; null (whole) or [] (streamed) without return_timestamps.")


def speech_request(max_input_chars: int, base: type[SpeechRequest] = SpeechRequest) -> type[SpeechRequest]:
    """``base`` (:class:`SpeechRequest`) with ``input`` limited as a server with ``max_input_chars``
    limits it: the one definition both the validation and the OpenAPI schema read."""
    limited = Field(
        min_length=MIN_INPUT_CHARS,
        max_length=max_input_chars,
        pattern=SPEAKABLE,
        description=f"The text to speak: {MIN_INPUT_CHARS} to {max_input_chars} characters, with at least one letter or digit (A-Z, a-z, 0-9).",
    )
    return create_model(base.__name__, __base__=base, input=(str, limited))


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(BaseModel):
    """Every error, in OpenAI's shape."""

    error: ErrorDetail


def _error_doc(description: str) -> dict[str, Any]:
    return {"description": description, "model": ErrorBody}


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str, param: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.headers = status, message, kind, param, headers or {}


ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 413: "invalid_request_error", 503: "server_busy", 500: "server_error"}


def error_response(status: int, message: str, code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error"), "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


class _State:
    """What one app instance shares between requests."""

    def __init__(self, settings: ServerSettings, engine: "Engine | None") -> None:
        self.settings = settings
        self.engine = engine
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.model_path = ""
        self.started = time.monotonic()
        self.admission = Admission(settings.workers, settings.queue, settings.queue_timeout)
        self.pool = concurrent.futures.ThreadPoolExecutor(settings.workers, thread_name_prefix="vocalize-speech")
        self.jobs: set[Job] = set()
        self.metrics = Metrics(lambda: self.admission.busy, lambda: self.admission.queued, MODEL_ID, __version__)

        # Engines by model id, made on first use (the server's own model at warm-up).
        self.engines: dict[str, "Engine"] = {}
        self.engines_lock = threading.Lock()
        if engine is not None:
            self.engines[TINY_MODEL_ID if type(engine).__name__ == "TinyEngine" else MODEL_ID] = engine

    def engine_for(self, model: str) -> "Engine":
        """The engine of a request's model (``kokoro`` and OpenAI's names, or ``tiny``)."""
        key = TINY_MODEL_ID if model == TINY_MODEL_ID else MODEL_ID
        with self.engines_lock:
            engine = self.engines.get(key)
            if engine is None:
                from ..engine import Engine

                engine = self.engines[key] = Engine(model=key, threads=self.settings.threads)
            return engine

    def warm_up(self) -> None:
        """Loads the model and the text frontend and runs one short synthesis; then ready."""
        try:
            if self.engine is None:
                self.engine = self.engine_for(self.settings.model)
            self.engine.warm_up()
            self.engine.synthesize("Ready.")
            self.model_path = str(self.engine._model().path) if self.settings.model == TINY_MODEL_ID else str(default_model())
            self.ready.set()
            log.info("vocalize: ready (model %s, %d threads)", self.model_path, self.engine.threads)
        except BaseException as e:  # reported by /health and by the serve command
            self.failure = e
            log.error("vocalize: error: warm-up failed: %s", e)

    def voices(self, model: str = MODEL_ID) -> list[str]:
        """The voices of ``model``'s engine."""
        if model == TINY_MODEL_ID:
            from .. import tiny

            return tiny.available()
        engine = self.engines.get(MODEL_ID) or self.engine
        if engine is None or type(engine).__name__ == "TinyEngine":
            from ..assets import voice_store

            return voice_store.names()
        return list(engine.voices)


def create_app(settings: ServerSettings | None = None, engine: "Engine | None" = None, warm_up: bool = True) -> FastAPI:
    """The ASGI app. It warms ``engine`` (by default a new :class:`Engine`) on a thread at
    start-up; ``/health`` says 503 until that is done."""
    settings = settings or ServerSettings()
    state = _State(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        thread = threading.Thread(target=state.warm_up, name="vocalize-warm-up", daemon=True) if warm_up else None
        if thread:
            thread.start()
        app.state.warm_up_thread = thread
        try:
            yield
        finally:
            for job in list(state.jobs):
                job.cancel()
            state.pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="vocalize",
        version=__version__,
        summary="Local text-to-speech (Kokoro-82M) with OpenAI's speech API.",
        lifespan=lifespan,
    )
    app.state.vocalize = state
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        """The document, with the voices this server has now (a user may add some)."""
        document = copy.deepcopy(plain_openapi())
        ready = state.ready.is_set()
        names = state.voices() if ready else []
        tiny_names = state.voices(TINY_MODEL_ID) if ready else []
        speech = document["components"]["schemas"]["SpeechRequest"]
        speech["properties"]["voice"].update(voice_schema(names + tiny_names))
        # Which voices a request may name depends on its model: Kokoro's (and blends), or the tiny model's.
        speech["anyOf"] = [
            {"properties": {"model": {"enum": [MODEL_ID, *MODEL_ALIASES]}, "voice": voice_schema(names)}},
            {"properties": {"model": {"const": TINY_MODEL_ID}, "voice": tiny_voice_schema(tiny_names)}, "required": ["model"]},
        ]
        # Word times come from Kokoro's durations: the tiny model gives none.
        captioned = document["components"]["schemas"]["CaptionedSpeechRequest"]
        captioned["properties"]["voice"].update(voice_schema(names))
        captioned["properties"]["model"]["enum"] = [MODEL_ID, *MODEL_ALIASES]
        return document

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.kind, e.param, e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        limit = _limit_error(state, e.errors())
        if limit is not None:
            return error_response(limit.status, limit.message, limit.kind, limit.param)
        state.metrics.errors.labels("invalid_request").inc()
        if any(item.get("type") == "json_invalid" for item in e.errors()):
            return error_response(400, "the request body is not valid JSON", "invalid_json")
        problems = []
        for item in e.errors():
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            problems.append(f"{where}: {item.get('msg')}" if where else str(item.get("msg")))
        param = ".".join(str(p) for p in e.errors()[0].get("loc", ()) if p != "body") if e.errors() else None
        return error_response(400, "; ".join(problems) or "invalid request", "invalid_request", param or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        if e.status_code == 413:
            state.metrics.errors.labels("too_large").inc()
        return error_response(e.status_code, str(e.detail), None, None, dict(e.headers or {}))

    @app.get("/health", summary="200 once the engine is warm, 503 before", tags=["server"])
    async def health() -> JSONResponse:
        if state.ready.is_set():
            return JSONResponse({"status": "ready"})
        if state.failure is not None:
            return JSONResponse({"status": "failed", "error": str(state.failure)}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/v1/models", summary="The model (and OpenAI's names for it)", tags=["openai"])
    async def models() -> dict[str, Any]:
        created = int(time.time() - (time.monotonic() - state.started))
        return {"object": "list", "data": [{"id": i, "object": "model", "created": created, "owned_by": "vocalize"} for i in MODEL_IDS]}

    @app.get("/v1/models/{model_id}", summary="One model", tags=["openai"], responses={404: _error_doc("No such model.")})
    async def model(model_id: str) -> dict[str, Any]:
        if model_id not in MODEL_IDS:
            raise ApiError(404, f"unknown model {model_id!r}; valid models: {', '.join(MODEL_IDS)}", "model_not_found", "model")
        return {"id": model_id, "object": "model", "created": int(time.time() - (time.monotonic() - state.started)), "owned_by": "vocalize"}

    @app.get("/v1/audio/voices", summary="Voices to speak with", tags=["openai"])
    async def voices() -> dict[str, Any]:
        _require_ready(state)
        from .. import tiny

        return {
            "voices": state.voices(),
            "default": DEFAULT_VOICE,
            "openai_aliases": {name: DEFAULT_VOICE for name in OPENAI_VOICES},
            "tiny": {"voices": state.voices(TINY_MODEL_ID), "default": tiny.DEFAULT_VOICE},
        }

    @app.get("/status", summary="Model, voices, threads, uptime and load", tags=["server"])
    async def status() -> dict[str, Any]:
        engine = state.engine
        return {
            "ready": state.ready.is_set(),
            "version": __version__,
            "model": {"id": settings.model, "path": state.model_path},
            "voices": state.voices() if state.ready.is_set() else [],
            "default_voice": DEFAULT_VOICE,
            "threads": engine.threads if engine is not None else None,
            "workers": settings.workers,
            "queue_limit": settings.queue,
            "max_input_chars": settings.max_input_chars,
            "in_flight": state.admission.busy,
            "queued": state.admission.queued,
            "uptime_seconds": round(time.monotonic() - state.started, 3),
        }

    @app.get(
        "/metrics",
        summary="Prometheus metrics (text format)",
        tags=["server"],
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus' text exposition format."}},
    )
    async def metrics() -> Response:
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    async def speech(body: SpeechRequest, request: Request) -> Response:
        return await _speech(state, body, request)

    # Validated and documented with this server's limits (a class made here, so it is set
    # after the fact: the module's annotations are strings).
    speech.__annotations__["body"] = speech_request(settings.max_input_chars)
    app.post(
        "/v1/audio/speech",
        summary="Speak text (OpenAI's create speech); the audio is streamed as it is synthesized",
        tags=["openai"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in encoders.MEDIA_TYPES.values()},
                  "description": "The audio, sent with chunked transfer encoding as it is made."},
            400: _error_doc("Bad input: unknown voice, format or model, speed out of range, empty text."),
            401: _error_doc("Missing or wrong API key."),
            413: _error_doc("Input text or request body too long."),
            503: _error_doc("Busy (queue full; see Retry-After) or still warming up."),
        },
    )(speech)

    async def captioned_speech(body: CaptionedSpeechRequest, request: Request) -> Response:
        return await _speech(state, body, request, captioned=True)

    captioned_speech.__annotations__["body"] = speech_request(settings.max_input_chars, CaptionedSpeechRequest)
    app.post(
        "/dev/captioned_speech",
        summary="Speak text with word timestamps (Kokoro-FastAPI's captioned speech)",
        tags=["kokoro-fastapi"],
        response_class=StreamingResponse,
        responses={
            200: {
                "model": CaptionedSpeechResponse,  # as application/json
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                "description": "With `stream` (the default) one CaptionedSpeechResponse object per line "
                "(application/x-ndjson) as the audio is made; without, one object (application/json).",
            },
            400: _error_doc("Bad input: unknown voice, format or model, speed out of range, empty text."),
            401: _error_doc("Missing or wrong API key."),
            413: _error_doc("Input text or request body too long."),
            500: _error_doc("The model gives no word timings."),
            503: _error_doc("Busy (queue full; see Retry-After) or still warming up."),
        },
    )(captioned_speech)

    app.add_middleware(_Guard, state=state)
    return app


def _require_ready(state: _State) -> None:
    if not state.ready.is_set():
        state.metrics.errors.labels("not_ready").inc()
        message = f"warm-up failed: {state.failure}" if state.failure else "the engine is warming up; try again shortly"
        raise ApiError(503, message, "not_ready", headers={"Retry-After": "1"})


def _bad(state: _State, message: str, param: str, status: int = 400, kind: str = "invalid_request") -> ApiError:
    state.metrics.errors.labels("too_large" if status == 413 else kind).inc()
    return ApiError(status, message, "too_large" if status == 413 else "invalid_" + param, param)


def voice_schema(names: list[str]) -> dict[str, Any]:
    """The JSON schema of a request's ``voice`` on a server with the voices ``names``: one
    of them or of OpenAI's names, a blend of them with positive weights, or ``{"id": ...}``."""
    one = {"type": "string", "enum": sorted({*names, *OPENAI_VOICES})}
    # Other keys are allowed (and ignored) if they are strings, as the request model takes them.
    by_id = {"type": "object", "properties": {"id": one}, "required": ["id"], "additionalProperties": {"type": "string"}}
    if not names:
        return {"anyOf": [one, by_id]}
    name = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    # Positive weights only (a zero weight is refused), and spaces and tabs only: JSON
    # Schema's and Python's notions of white space differ.
    positive = r"0*[1-9]\d*(?:\.\d+)?|0+\.\d*[1-9]\d*"
    blend = {"type": "string", "pattern": "^" + blend_grammar(name, positive, "[ \t]*") + "$"}
    return {"anyOf": [one, blend, by_id]}


def tiny_voice_schema(names: list[str]) -> dict[str, Any]:
    """The JSON schema of the ``voice`` of a tiny-model request: one of its voices ``names``
    (no blends: each is a model of its own) or of OpenAI's names, or ``{"id": ...}``."""
    one = {"type": "string", "enum": sorted({*names, *OPENAI_VOICES})}
    by_id = {"type": "object", "properties": {"id": one}, "required": ["id"], "additionalProperties": {"type": "string"}}
    return {"anyOf": [one, by_id]}


def _limit_error(state: _State, errors: Any) -> ApiError | None:
    """The error a request breaking one of :func:`speech_request`'s limits gets (413 for too
    long an input, as for too large a body), or None for other validation errors."""
    if len(errors) != 1:
        return None
    (error,) = errors
    where, kind, value = tuple(error.get("loc", ())), error.get("type"), error.get("input")
    if where == ("body", "input") and kind == "string_too_long":
        limit = error.get("ctx", {}).get("max_length")
        return _bad(state, f"input is {len(value)} characters; this server takes at most {limit}", "input", 413)
    if where == ("body", "input") and (kind == "string_too_short" or (kind == "string_pattern_mismatch" and not value.strip())):
        return _bad(state, "text is empty", "input")
    if where == ("body", "input") and kind == "string_pattern_mismatch":
        return _bad(state, "nothing to speak in the given text: it needs a letter or a digit", "input")
    if where == ("body", "speed") and kind in ("greater_than_equal", "less_than_equal"):
        return _bad(state, f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {float(value):g}", "speed")
    return None


def _voice(state: _State, voice: Union[str, dict[str, str]], model: str = MODEL_ID) -> str:
    """The request's voice spec, checked: a known name, an OpenAI name, or a blend of names
    (for the tiny model, one of its voice names: see :mod:`vocalize.tiny`)."""
    if isinstance(voice, dict):
        voice = voice.get("id", "")
    voice = voice.strip()
    if model == TINY_MODEL_ID:
        from .. import tiny

        if voice.lower() in OPENAI_VOICES and not tiny.is_tiny_voice(voice.lower()):
            return tiny.DEFAULT_VOICE
        try:
            return tiny.resolve(voice).name
        except VoiceError as e:
            raise _bad(state, str(e), "voice") from None
    valid = state.voices()
    if voice.lower() in OPENAI_VOICES:
        return DEFAULT_VOICE
    if not VOICE_SPEC.fullmatch(voice):
        raise _bad(
            state,
            f"invalid voice {voice!r}: give a voice name or a blend like 'jm_kumo:0.7+jf_alpha:0.3' "
            f"(no paths); valid voices: {', '.join(valid)}",
            "voice",
        )
    if VOICE_NAME.fullmatch(voice) and voice not in valid:
        from .. import tiny

        if tiny.is_tiny_voice(voice):
            raise _bad(state, f"{voice!r} is a voice of the tiny model (--model tiny): send \"model\": \"tiny\"; Kokoro's voices: {', '.join(valid)}", "voice")
        raise _bad(state, f"unknown voice {voice!r}; valid voices: {', '.join(valid)}", "voice")
    return voice


async def _speech(state: _State, body: SpeechRequest, request: Request, captioned: bool = False) -> Response:
    arrived = time.perf_counter()
    _require_ready(state)
    assert state.engine is not None
    if body.model not in MODEL_IDS:
        raise _bad(state, f"unknown model {body.model!r}; valid models: {', '.join(MODEL_IDS)}", "model")
    if captioned and body.model == TINY_MODEL_ID:
        raise _bad(state, "the tiny model gives no word timestamps: captioned speech needs Kokoro (model 'kokoro')", "model")
    fmt = body.response_format.lower()
    if fmt not in encoders.FORMATS:
        raise _bad(state, f"unsupported response_format {body.response_format!r}; valid formats: {', '.join(encoders.FORMATS)}", "response_format")
    # A request without a voice speaks with its model's default voice.
    if body.model == TINY_MODEL_ID and "voice" not in body.model_fields_set:
        from .. import tiny

        voice = tiny.DEFAULT_VOICE
    else:
        voice = _voice(state, body.voice, body.model)
    engine = await asyncio.get_running_loop().run_in_executor(None, state.engine_for, body.model)

    try:
        await _unless_disconnected(request, state.admission.acquire())
    except Busy as e:
        state.metrics.errors.labels("busy").inc()
        raise ApiError(503, str(e), "server_busy", headers={"Retry-After": str(e.retry_after)}) from None
    except _Disconnected:
        state.metrics.errors.labels("cancelled").inc()
        return Response(status_code=499)
    queued = time.perf_counter() - arrived
    state.metrics.queue_wait.observe(queued)

    def done(job: Job) -> None:
        state.jobs.discard(job)
        state.admission.release(time.perf_counter() - job.started if job.started else None)

    loop = asyncio.get_running_loop()
    try:
        job = Job(engine, body.input, voice, body.speed, encoders.encoder(fmt), loop, done, timestamps=captioned)
        state.jobs.add(job)
        state.pool.submit(job.run)
    except BaseException:
        state.admission.release()
        raise

    # The status line waits for the first audio, so bad input found by the engine is a 400.
    try:
        kind, payload = await _unless_disconnected(request, job.items.get())
    except _Disconnected:
        job.cancel()
        state.metrics.errors.labels("cancelled").inc()
        return Response(status_code=499)
    if kind == ERROR:
        if isinstance(payload, InputError):
            state.metrics.errors.labels("invalid_request").inc()
            if isinstance(payload, VoiceError):
                raise ApiError(400, f"{payload}; valid voices: {', '.join(state.voices(body.model))}", "invalid_request", "voice")
            raise ApiError(400, str(payload), "invalid_request", "input")
        state.metrics.errors.labels("synthesis").inc()
        log.error("vocalize: synthesis failed: %s", payload, exc_info=not isinstance(payload, VocalizeError))
        raise ApiError(500, f"synthesis failed: {payload}", "synthesis_failed")
    if kind != DATA:
        state.metrics.errors.labels("cancelled").inc()
        return Response(status_code=499)
    state.metrics.first_audio.observe(time.perf_counter() - arrived)
    state.metrics.characters.inc(len(body.input))
    if isinstance(body, CaptionedSpeechRequest):
        return CaptionedResponse(state, job, payload, arrived, encoders.MEDIA_TYPES[fmt], body.stream, body.return_timestamps)
    return SpeechResponse(state, job, payload, arrived, media_type=encoders.MEDIA_TYPES[fmt])


class SpeechResponse(StreamingResponse):
    """Streams a job's bytes; however the response ends, the job is cancelled and counted."""

    def __init__(self, state: _State, job: Job, first: bytes, arrived: float, media_type: str) -> None:
        self.state, self.job, self.arrived = state, job, arrived
        super().__init__(self._chunks(first), media_type=media_type, headers={"Cache-Control": "no-store"})

    async def _chunks(self, first: bytes) -> AsyncIterator[bytes]:
        if first:
            yield first
        while True:
            kind, payload = await self.job.items.get()
            if kind == DATA:
                if payload:
                    yield payload
            elif kind == END:
                return
            elif kind == ERROR:
                self.state.metrics.errors.labels("synthesis").inc()
                raise RuntimeError(f"synthesis failed after the response started: {payload}") from payload
            elif kind == CANCELLED:
                return

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            job, metrics = self.job, self.state.metrics
            if job.completed:
                metrics.latency.observe(time.perf_counter() - self.arrived)
                metrics.audio_seconds.inc(job.audio_seconds)
                if job.audio_seconds > 0:
                    metrics.rtf.observe(job.synthesis_seconds / job.audio_seconds)
            else:
                job.cancel()
                if job.error is None:
                    metrics.errors.labels("cancelled").inc()


class CaptionedResponse(SpeechResponse):
    """A captioned job's pieces as Kokoro-FastAPI sends them: streamed, one
    :class:`CaptionedSpeechResponse` per line for each piece with audio (the words of a
    piece without audio go with the next); whole, one object at the end."""

    def __init__(self, state: _State, job: Job, first: tuple[bytes, list[Any]], arrived: float, audio_type: str, stream: bool, timestamps: bool) -> None:
        self.audio_type, self.stream, self.timestamps = audio_type, stream, timestamps
        super().__init__(state, job, first, arrived, "application/x-ndjson" if stream else "application/json")  # type: ignore[arg-type]

    def _line(self, audio: bytes, words: list[Any]) -> bytes:
        import base64
        import json

        times = [{"word": w.word, "start_time": round(w.start, 3), "end_time": round(w.end, 3)} for w in words] if self.timestamps else None
        body = {"audio": base64.b64encode(audio).decode("ascii"), "audio_format": self.audio_type, "timestamps": times}
        if self.stream and times is None:
            body["timestamps"] = []
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() + (b"\n" if self.stream else b"")

    async def _chunks(self, first: Any) -> AsyncIterator[bytes]:
        audio, words = bytearray(), []
        async for data, piece_words in self._pieces(first):
            audio += data
            words += piece_words
            if self.stream and audio:
                yield self._line(bytes(audio), words)
                audio, words = bytearray(), []
        if not self.stream or words:
            yield self._line(bytes(audio), words)

    async def _pieces(self, first: Any) -> AsyncIterator[tuple[bytes, list[Any]]]:
        yield first
        while True:
            kind, payload = await self.job.items.get()
            if kind == DATA:
                yield payload
            elif kind == ERROR:
                self.state.metrics.errors.labels("synthesis").inc()
                raise RuntimeError(f"synthesis failed after the response started: {payload}") from payload
            else:  # END, CANCELLED
                return


class _Disconnected(Exception):
    pass


async def _unless_disconnected(request: Request, work: Any) -> Any:
    """Awaits ``work`` unless the client disconnects first (then raises :class:`_Disconnected`)."""
    task = asyncio.ensure_future(work)

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watch = asyncio.ensure_future(disconnected())
    try:
        done, _ = await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        watch.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    raise _Disconnected()


class _BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


OPEN_PATHS = ("/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
ROUTES = ("/v1/audio/speech", "/dev/captioned_speech", "/v1/audio/voices", "/v1/models", "/health", "/status", "/metrics", "/openapi.json", "/docs")


class _Guard:
    """ASGI middleware: the API key, the request body limit, and counting responses."""

    def __init__(self, app: Any, state: _State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, settings = self.state, self.state.settings
        path = scope.get("path", "")
        route = path if path in ROUTES else "/v1/models/{id}" if path.startswith("/v1/models/") else "other"
        status_seen: list[int] = []

        async def counted_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status_seen.append(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-vocalize-version", __version__.encode())]
            await send(message)

        try:
            headers = dict(scope.get("headers") or [])
            if settings.api_key and path not in OPEN_PATHS and not _authorized(headers.get(b"authorization", b""), settings.api_key):
                state.metrics.errors.labels("unauthorized").inc()
                response = error_response(401, "missing or wrong API key: send 'Authorization: Bearer <key>'",
                                          "invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, counted_send)
                return
            limit = settings.max_body_bytes
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                state.metrics.errors.labels("too_large").inc()
                await error_response(413, f"request body larger than {limit} bytes", "body_too_large")(scope, receive, counted_send)
                return
            received = 0

            async def limited_receive() -> Any:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        raise _BodyTooLarge(limit)
                return message

            await self.app(scope, limited_receive, counted_send)
        finally:
            state.metrics.requests.labels(route, str(status_seen[0]) if status_seen else "none").inc()


def _authorized(header: bytes, key: str) -> bool:
    scheme, _, token = header.decode("latin-1").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode())
