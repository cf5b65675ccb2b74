"""est_ca_handler.acme2certifier as acme2certifier calls it, and the
acme_srv.cfg reader."""

import logging
from types import SimpleNamespace

import pytest
from acme2certifier.acme_srv.helper import load_config
from acme2certifier.acme_srv.helpers.config import load_config_cache_clear
from conftest import acme_csr, assert_certifies, basic_settings, env, make_csr

from est_ca_handler import ConfigError, Handler, Issued
from est_ca_handler._config import settings_from_config
from est_ca_handler.acme2certifier import CAhandler


def write_cfg(tmp_path, monkeypatch, cahandler: str, default: str = "") -> str:
    path = tmp_path / "acme_srv.cfg"
    path.write_text(
        "[DEFAULT]\ndebug: True\n%s\n[Order]\ntnauthlist_support: False\n\n%s" % (default, cahandler)
    )
    monkeypatch.setenv("ACME_SRV_CONFIGFILE", str(path))
    load_config_cache_clear()
    return str(path)


def section(name: str, settings) -> str:
    lines = ["[%s]" % name, "handler_module: est_ca_handler.acme2certifier"]
    lines += ["%s: %s" % item for item in settings.items()]
    return "\n".join(lines) + "\n\n"


def handler() -> CAhandler:
    return CAhandler(False, logging.getLogger("test"))


def test_enroll_returns_acme2certifiers_tuple(tmp_path, monkeypatch):
    write_cfg(tmp_path, monkeypatch, section("CAhandler", basic_settings("BASIC")))
    csr, key = make_csr("a2c.example.test")
    with handler() as ca:
        error, bundle, raw, poll_identifier = ca.enroll(acme_csr(csr))
    assert error is None and poll_identifier is None
    assert_certifies(SimpleNamespace(cert_bundle=bundle, cert_raw=raw), key, "a2c.example.test")


def test_a_refusal_is_returned_in_the_cas_words(tmp_path, monkeypatch):
    write_cfg(tmp_path, monkeypatch, section("CAhandler", basic_settings("REJECT")))
    csr, _ = make_csr("refused.example.test")
    with handler() as ca:
        error, bundle, raw, poll_identifier = ca.enroll(acme_csr(csr))
    assert (bundle, raw, poll_identifier) == (None, None, None)
    assert env("ESTPY_REJECT_TEXT") in error
    assert "HTTP 400" in error


def test_a_transport_failure_carries_the_hint_for_its_cause(tmp_path, monkeypatch):
    settings = dict(basic_settings("BASIC"), est_host=env("ESTPY_DOWN_URL"))
    write_cfg(tmp_path, monkeypatch, section("CAhandler", settings))
    csr, _ = make_csr("down.example.test")
    with handler() as ca:
        # handler_check makes no request: nothing listens there, and it passes.
        assert ca.handler_check() is None
        error, _, _, _ = ca.enroll(acme_csr(csr))
    assert "connection refused" in error
    assert "nothing listens there: check the port in est_host" in error


def test_configuration_errors_are_returned(tmp_path, monkeypatch):
    write_cfg(tmp_path, monkeypatch, section("CAhandler", {"est_user": "estuser"}))
    with handler() as ca:
        assert 'est_host" parameter is missing' in ca.handler_check()
        error, bundle, raw, poll_identifier = ca.enroll("MIIB")
    assert 'est_host" parameter is missing' in error
    settings = dict(basic_settings("BASIC"), ca_bundle="/nonexistent/est-ca.pem")
    write_cfg(tmp_path, monkeypatch, section("CAhandler", settings))
    with handler() as ca:
        assert "/nonexistent/est-ca.pem" in ca.handler_check()
        assert ca.poll("name", "id", "MIIB")[0].startswith("est-ca-handler: configuration error")


def test_revoke_and_trigger_answer_like_acme2certifiers_est_handler(tmp_path, monkeypatch):
    write_cfg(tmp_path, monkeypatch, section("CAhandler", basic_settings("BASIC")))
    with handler() as ca:
        assert ca.revoke("MIIB", "unspecified", "2026-01-01T00:00:00Z") == (
            500,
            "urn:ietf:params:acme:error:serverInternal",
            "Revocation is not supported.",
        )
        error, bundle, raw = ca.trigger("payload")
    assert (bundle, raw) == (None, None)
    assert "Method not implemented." in error


def test_settings_are_the_handlers_keys_and_the_proxy_list(tmp_path, monkeypatch):
    basic = basic_settings("BASIC")
    text = section("CAhandler", dict(basic, api_token="not-a-handler-key"))
    text += section("CAhandler:second", dict(basic, est_label="second"))
    path = write_cfg(
        tmp_path,
        monkeypatch,
        text,
        default='proxy_server_list: {"corp.example$": "http://proxy.example:3128"}\nest_names_check: off\n',
    )
    config = load_config(logging.getLogger("test"), "CAhandler")
    settings = settings_from_config(config, "CAhandler")
    assert settings == dict(
        basic,
        # acme2certifier's shape, host pattern -> proxy; the EST server
        # (localhost) matches no pattern, so the enrollment below goes direct.
        proxy_server_list='{"corp.example$": "http://proxy.example:3128"}',
        # configparser shows [DEFAULT]'s keys in every section, as
        # acme2certifier's own handlers see them.
        est_names_check="off",
    )
    assert settings_from_config(config, "CAhandler:second")["est_label"] == "second"

    # Handler.from_acme_srv_cfg reads the file the same way.
    csr, key = make_csr("from-cfg.example.test")
    issued = Handler.from_acme_srv_cfg(path).enroll(csr)
    assert isinstance(issued, Issued)
    assert_certifies(issued, key, "from-cfg.example.test")
    with pytest.raises(ConfigError, match=r"no \[CAhandler:third\] section"):
        Handler.from_acme_srv_cfg(path, "CAhandler:third")
    with pytest.raises(ConfigError, match="cannot read"):
        Handler.from_acme_srv_cfg(tmp_path / "missing.cfg")


def test_a_configuration_is_read_once_per_object_acme2certifier_hands_out(tmp_path, monkeypatch):
    import est_ca_handler.acme2certifier as module

    reads = []
    original = module.settings_from_config

    def counting(config, name):
        reads.append(name)
        return original(config, name)

    monkeypatch.setattr(module, "settings_from_config", counting)
    write_cfg(tmp_path, monkeypatch, section("CAhandler", basic_settings("BASIC")))
    for _ in range(3):
        with handler() as ca:
            assert ca.handler_check() is None
    assert len(reads) == 1, reads

    # A configuration acme2certifier parses again (a new object) is read again.
    settings = dict(basic_settings("BASIC"), est_label="changed")
    write_cfg(tmp_path, monkeypatch, section("CAhandler", settings))
    with handler() as ca:
        assert ca.handler_check() is None
        cached = [entry[2] for entry in module._SETTINGS_CACHE.values()]
        assert any(s.get("est_label") == "changed" for s in cached), cached
    assert len(reads) == 2, reads
