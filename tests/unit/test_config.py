import pytest
from pydantic import ValidationError

from shared.config import Settings, get_settings


def test_defaults_pick_the_embedded_adapters() -> None:
    s = get_settings()
    assert (s.store_kind, s.bus_kind) == ("sqlite", "local")
    assert s.sqlite_file.endswith("store.sqlite3")
    assert s.dead_letter_topic("ingest") == "ingest-dead-letter"


def test_a_project_selects_firestore_and_pubsub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    s = Settings()
    assert (s.store_kind, s.bus_kind) == ("firestore", "pubsub")


def test_an_emulator_alone_selects_its_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
    s = Settings()
    assert (s.store_kind, s.bus_kind) == ("firestore", "local")


def test_explicit_backend_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("STORE_BACKEND", "sqlite")
    assert Settings().store_kind == "sqlite"


def test_origins_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    assert Settings().allowed_origins == ["https://a.example", "https://b.example"]


def test_the_default_origin_is_the_local_stack_on_its_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    assert Settings().allowed_origins == ["http://localhost:9000", "http://127.0.0.1:9000"]


def test_a_deployed_function_allows_no_origin_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "chat")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    monkeypatch.setenv("GENAI_BACKEND", "vertex")
    monkeypatch.setenv("SESSION_SECRET", "s" * 32)
    assert Settings().allowed_origins == []
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://shop.example")
    assert Settings().allowed_origins == ["https://shop.example"]


def test_a_deployed_function_without_a_project_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K_SERVICE", "chat")
    with pytest.raises(ValidationError, match="GOOGLE_CLOUD_PROJECT"):
        Settings()
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    with pytest.raises(ValidationError, match="GEMINI_API_KEY or GENAI_BACKEND=vertex"):
        Settings()
    monkeypatch.setenv("GENAI_BACKEND", "vertex")
    assert (Settings().store_kind, Settings().genai_kind) == ("firestore", "vertex")


def test_the_deployed_chat_function_needs_a_session_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {
        "K_SERVICE": "chat",
        "GOOGLE_CLOUD_PROJECT": "p",
        "GENAI_BACKEND": "vertex",
    }.items():
        monkeypatch.setenv(name, value)
    assert Settings().proxy_hops == 1  # Cloud Run's front end appends the client's address
    monkeypatch.setenv("FUNCTION_TARGET", "chat")
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        Settings()
    monkeypatch.setenv("SESSION_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32"):
        Settings()
    monkeypatch.setenv("SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("FORWARDED_HOPS", "2")
    assert Settings().proxy_hops == 2
    monkeypatch.setenv("FUNCTION_TARGET", "ingest")
    monkeypatch.delenv("SESSION_SECRET")
    assert Settings().function_target == "ingest"  # only the chat function signs tokens


def test_no_proxy_is_trusted_off_cloud_run() -> None:
    assert Settings().proxy_hops == 0


def test_models_are_offline_without_a_key_and_gemini_with_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().genai_kind == "offline"
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert Settings().genai_kind == "gemini"
    monkeypatch.setenv("GENAI_BACKEND", "vertex")
    with pytest.raises(ValidationError, match="needs GOOGLE_CLOUD_PROJECT"):
        Settings()


def test_dedupe_markers_outlive_the_events_they_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_EVENT_AGE_S", "90000")
    monkeypatch.setenv("PROCESSED_MARKER_TTL_S", "3600")
    with pytest.raises(ValidationError, match="PROCESSED_MARKER_TTL_S"):
        Settings()


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "sk-very-secret")
    s = Settings()
    assert "sk-very-secret" not in repr(s)
    assert s.gemini_api_key is not None
    assert s.gemini_api_key.get_secret_value() == "sk-very-secret"


@pytest.mark.parametrize(
    ("name", "value"), [("PORT", "0"), ("RATE_LIMIT_PER_MINUTE", "0"), ("LOG_LEVEL", "LOUD")]
)
def test_bad_values_fail_clearly(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings()


def test_settings_are_read_once() -> None:
    assert get_settings() is get_settings()


def test_env_example_documents_every_setting_with_its_default() -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / ".env.example"
    text = example.read_text()
    for name in Settings.model_fields:
        assert f"{name.upper()}=" in text, f"{name.upper()} is missing from .env.example"
    assert Settings(_env_file=str(example)) == Settings(_env_file=None)
