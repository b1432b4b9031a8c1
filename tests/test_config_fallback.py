"""A responder who set sign-in variables expects the tenant, never the bundled sample."""

from __future__ import annotations

import pytest

from irreport.config import load_config
from irreport.errors import ConfigurationError
from irreport.sources import open_source


def _settings_from(tmp_path, monkeypatch, environ):
    """Load the configuration with no file anywhere and only *environ* set."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    return load_config(None, environ={"XDG_CONFIG_HOME": str(tmp_path), **environ})


def test_sign_in_settings_mean_defender(tmp_path, monkeypatch):
    config = _settings_from(tmp_path, monkeypatch, {"AZURE_TENANT_ID": "t"})
    assert config["source"] == {"kind": "defender"}


def test_no_settings_mean_sample(tmp_path, monkeypatch):
    config = _settings_from(tmp_path, monkeypatch, {})
    assert "source" not in config


def test_half_set_tenant_is_an_error(tmp_path, monkeypatch):
    config = _settings_from(tmp_path, monkeypatch, {"AZURE_TENANT_ID": "t"})
    with pytest.raises(ConfigurationError, match="sign-in setting missing: client_id"):
        open_source(None, config=config)
