"""Handler settings from an acme2certifier configuration."""

import configparser
import os
from typing import Dict, Union

from ._native import SETTINGS_KEYS, ConfigError

# The keys acme2certifier keeps in [DEFAULT] that the host reads:
# proxy_server_list, the JSON map of EST server names to HTTP CONNECT
# proxies that acme2certifier's own handlers use.
DEFAULT_KEYS = ("proxy_server_list",)


def config_error(detail: str) -> ConfigError:
    """A ``ConfigError`` like the host's: ``detail``, and a text that
    says it is a configuration error."""
    error = ConfigError("configuration error: " + detail)
    error.detail = detail
    return error


def settings_from_config(
    config: configparser.ConfigParser, section: str = "CAhandler"
) -> Dict[str, str]:
    """The handler's settings in ``section`` of a parsed configuration:
    the handler's keys (``SETTINGS_KEYS``) of that section, and the
    ``[DEFAULT]`` keys the host reads (``DEFAULT_KEYS``)."""
    if not config.has_section(section):
        raise config_error("the configuration has no [%s] section" % section)
    values = config[section]
    settings = {key: values[key] for key in SETTINGS_KEYS if key in values}
    defaults = config.defaults()
    for key in DEFAULT_KEYS:
        if key in defaults:
            settings[key] = defaults[key]
    return settings


def acme_srv_cfg_settings(
    path: Union[str, "os.PathLike[str]"], section: str = "CAhandler"
) -> Dict[str, str]:
    """``settings_from_config`` of the INI file at ``path``, parsed as
    acme2certifier parses it (no interpolation, keys as written)."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        with open(path, encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except OSError as err:
        raise config_error(
            "cannot read %s: %s" % (os.fspath(path), err.strerror or err)
        ) from None
    except configparser.Error as err:
        raise config_error("%s is not an INI file: %s" % (os.fspath(path), err)) from None
    return settings_from_config(parser, section)
