"""The API reference (docs/reference.md) is current, and every public name documents itself."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
import types
from collections.abc import Iterator
from functools import cached_property as functools_cached_property
from typing import Any

from plutono_plugin._model import _attribute_docs
from tests.reference import (
    REFERENCE,
    SECTIONS,
    public_members,
    render,
    resolve,
)

# Gaps in modules outside the author-facing core, recorded when this test was written
# (issue 18); fill them and delete the line.
KNOWN_GAPS = frozenset(
    {
        "plutono_plugin.frame.Frame: field 'name' is not described",
        "plutono_plugin.frame.Frame: field 'fields' is not described",
        "plutono_plugin.frame.Frame.decode(): parameter 'data' is not described",
        "plutono_plugin.frame.Frame.from_dict(): parameter 'columns' is not described",
        "plutono_plugin.frame.Frame.from_dict(): parameter 'ref_id' is not described",
        "plutono_plugin.frame.Frame.from_rows(): parameter 'name' is not described",
        "plutono_plugin.frame.Frame.from_rows(): parameter 'converters' is not described",
        "plutono_plugin.frame.Frame.from_rows(): parameter 'types' is not described",
        "plutono_plugin.frame.Frame.from_rows(): parameter 'ref_id' is not described",
        "plutono_plugin.frame.Frame.from_arrow(): parameter 'table' is not described",
        "plutono_plugin.frame.Frame.from_arrow(): parameter 'name' is not described",
        "plutono_plugin.frame.Frame.from_arrow(): parameter 'ref_id' is not described",
        "plutono_plugin.frame.Frame.from_pandas(): parameter 'data' is not described",
        "plutono_plugin.frame.Frame.from_pandas(): parameter 'name' is not described",
        "plutono_plugin.frame.Frame.from_pandas(): parameter 'ref_id' is not described",
        "plutono_plugin.frame.Frame.from_polars(): parameter 'data' is not described",
        "plutono_plugin.frame.Frame.from_polars(): parameter 'name' is not described",
        "plutono_plugin.frame.Frame.from_polars(): parameter 'ref_id' is not described",
        "plutono_plugin.frame.Frame.fill_missing(): parameter 'mode' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'display_name_from_ds' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'path' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'description' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'filterable' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'mappings' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'thresholds' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'color' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'null_value_mode' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'links' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'no_value' is not described",
        "plutono_plugin.frame.config.FieldConfig: field 'custom' is not described",
        "plutono_plugin.frame.config.FieldConfig.from_json(): parameter 'data' is not described",
        "plutono_plugin.frame.meta.FrameMeta: field 'path' is not described",
        "plutono_plugin.frame.meta.FrameMeta: field 'path_separator' is not described",
        "plutono_plugin.frame.meta.FrameMeta: field 'stats' is not described",
        "plutono_plugin.frame.meta.FrameMeta: field 'notices' is not described",
        "plutono_plugin.frame.meta.FrameMeta: field 'executed_query_string' is not described",
        "plutono_plugin.frame.meta.FrameMeta.from_json(): parameter 'data' is not described",
        "plutono_plugin.frame.meta.Notice: field 'text' is not described",
        "plutono_plugin.frame.meta.Notice: field 'severity' is not described",
        "plutono_plugin.frame.meta.Notice: field 'link' is not described",
        "plutono_plugin.frame.meta.Notice: field 'inspect' is not described",
        "plutono_plugin.frame.meta.Notice.from_json(): parameter 'data' is not described",
        "plutono_plugin.resource.ResourceRequest: field 'method' is not described",
        "plutono_plugin.resource.ResourceRequest: field 'headers' is not described",
        "plutono_plugin.resource.ResourceRequest: field 'body' is not described",
        "plutono_plugin.resource.ResourceRequest: field 'context' is not described",
        "plutono_plugin.resource.ResourceRequest: field 'path_params' is not described",
        "plutono_plugin.resource.ResourceResponse.json(): parameter 'status' is not described",
        "plutono_plugin.resource.ResourceResponse.json(): parameter 'headers' is not described",
        "plutono_plugin.resource.ResourceResponse.text(): parameter 'status' is not described",
        "plutono_plugin.resource.ResourceResponse.text(): parameter 'headers' is not described",
        "plutono_plugin.resource.ResourceResponse.text(): parameter 'content_type' is not described",  # noqa: E501
        "plutono_plugin.resource.Headers(): parameter 'source' is not described",
        "plutono_plugin.errors.describe_exception(): parameter 'error' is not described",
        "plutono_plugin.host.PluginHost(): parameter 'manifest' is not described",
        "plutono_plugin.host.PluginHost(): parameter 'relaunch' is not described",
        "plutono_plugin.host.PluginHost.start(): parameter 'plugin_dir' is not described",
        "plutono_plugin.host.PluginHost.start(): parameter 'start_timeout' is not described",
        "plutono_plugin.host.PluginHost.start(): parameter 'cwd' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'plugin_dir' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'env' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'plugin_settings' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'json_data' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'secure_json_data' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'start_timeout' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'cwd' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'on_log' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'restart' is not described",
        "plutono_plugin.host.PluginHost.launch(): parameter 'inherit_environment' is not described",
        "plutono_plugin.host.PluginHost.wait_for_log(): parameter 'timeout' is not described",
        "plutono_plugin.host.HealthReply: field 'status' is not described",
        "plutono_plugin.host.HealthReply: field 'message' is not described",
        "plutono_plugin.host.HealthReply: field 'details' is not described",
        "plutono_plugin.host.StopResult: field 'exit_code' is not described",
        "plutono_plugin.host.StopResult: field 'graceful' is not described",
        "plutono_plugin.http.HTTPSettings: field 'url' is not described",
        "plutono_plugin.http.HTTPSettings: field 'basic_auth' is not described",
        "plutono_plugin.http.HTTPSettings: field 'headers' is not described",
        "plutono_plugin.http.HTTPSettings: field 'oauth_pass_through' is not described",
        "plutono_plugin.http.HTTPSettings: field 'tls_skip_verify' is not described",
        "plutono_plugin.http.HTTPSettings: field 'tls_ca_cert' is not described",
        "plutono_plugin.http.HTTPSettings: field 'tls_client_cert' is not described",
        "plutono_plugin.http.HTTPSettings: field 'tls_client_key' is not described",
        "plutono_plugin.http.HTTPSettings: field 'server_name' is not described",
        "plutono_plugin.http.HTTPSettings: field 'timeout' is not described",
        "plutono_plugin.http.HTTPSettings.ssl_context(): parameter 'owner' is not described",
        "plutono_plugin.http.forward_headers(): parameter 'context' is not described",
        "plutono_plugin.timeutil.parse_duration(): parameter 'text' is not described",
        "plutono_plugin.macros.MacroContext: field 'time_literal' is not described",
        "plutono_plugin.macros.MacroContext: field 'time_group' is not described",
        "plutono_plugin.macros.MacroFunction: no docstring",
        "plutono_plugin.macros.expand_macros(): parameter 'time_literal' is not described",
        "plutono_plugin.macros.expand_macros(): parameter 'time_group' is not described",
        "plutono_plugin.frame.annotations.annotations_frame(): parameter 'name' is not described",
        "plutono_plugin.frame.annotations.annotations_frame(): parameter 'ref_id' is not described",
    }
)


def documented() -> Iterator[tuple[str, Any]]:
    """(name, object) of everything the reference shows."""
    for _, names in SECTIONS:
        for dotted in names:
            obj = resolve(dotted)
            if isinstance(obj, types.ModuleType):
                for member in getattr(obj, "__all__", ()):
                    yield f"{dotted}.{member}", getattr(obj, member)
            else:
                yield dotted, obj


def mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def undescribed_parameters(function: Any, text: str) -> list[str]:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        parameter.name
        for parameter in parameters
        if parameter.name not in ("self", "cls")
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
        and not mentioned(parameter.name, text)
    ]


def problems_of(name: str, obj: Any) -> Iterator[str]:
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        yield f"{name}: no docstring"
    if not callable(obj) or (inspect.isclass(obj) and issubclass(obj, enum.Enum)):
        return
    if inspect.isclass(obj):
        if dataclasses.is_dataclass(obj):
            docs = _attribute_docs(obj)
            for field in dataclasses.fields(obj):
                if not field.name.startswith("_") and not (
                    docs.get(field.name) or mentioned(field.name, doc)
                ):
                    yield f"{name}: field {field.name!r} is not described"
        elif not issubclass(obj, BaseException) and "__init__" in vars(obj):
            init_doc = doc + (inspect.getdoc(obj.__init__) or "")
            for parameter in undescribed_parameters(obj.__init__, init_doc):
                yield f"{name}(): parameter {parameter!r} is not described"
        for member_name, member in public_members(obj):
            if isinstance(member, (property, functools_cached_property)):
                getter = member.fget if isinstance(member, property) else member.func
                if not inspect.getdoc(getter):
                    yield f"{name}.{member_name}: no docstring"
                continue
            member_doc = inspect.getdoc(member) or ""
            if not member_doc:
                yield f"{name}.{member_name}: no docstring"
            for parameter in undescribed_parameters(member, member_doc):
                yield f"{name}.{member_name}(): parameter {parameter!r} is not described"
    else:
        for parameter in undescribed_parameters(obj, doc):
            yield f"{name}(): parameter {parameter!r} is not described"


def test_every_public_name_has_a_docstring_describing_its_parameters_and_fields() -> None:
    """A ratchet: no new gap, and a gap that was filled leaves KNOWN_GAPS."""
    problems = {problem for name, obj in documented() for problem in problems_of(name, obj)}
    assert sorted(problems - KNOWN_GAPS) == [], "describe these in the docstrings"
    assert sorted(KNOWN_GAPS - problems) == [], "filled: remove them from KNOWN_GAPS"


def test_the_context_and_query_types_list_their_fields() -> None:
    from plutono_plugin import DataSourceSettings, PluginContext, Query, Secrets, TimeRange, User

    for cls in (PluginContext, DataSourceSettings, User, Secrets, TimeRange, Query):
        assert not list(problems_of(cls.__name__, cls)), cls
    page = REFERENCE.read_text(encoding="utf-8")
    assert (
        "| `decrypted_secure_json_data` | `Secrets` | empty | `secureJsonData`, decrypted" in page
    )


def test_the_reference_page_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), "run make reference"
