"""plutono-plugin: asyncio-native backend plugins for Plutono 7.5.

Everything a plugin author types is importable from here::

    from plutono_plugin import Field, Frame, Plugin, Query

The dev host and test kit live in :mod:`plutono_plugin.testing`.
"""

from .context import AppSettings as AppSettings
from .context import DataSourceSettings as DataSourceSettings
from .context import PluginContext as PluginContext
from .context import RequestContext as RequestContext
from .context import Secrets as Secrets
from .context import User as User
from .diagnostics import HealthResult as HealthResult
from .diagnostics import HealthStatus as HealthStatus
from .errors import ConfigurationError as ConfigurationError
from .errors import FrameError as FrameError
from .errors import HandshakeError as HandshakeError
from .errors import InstanceError as InstanceError
from .errors import OptionsError as OptionsError
from .errors import PluginError as PluginError
from .errors import QueryError as QueryError
from .errors import ResourceError as ResourceError
from .frame import Field as Field
from .frame import FieldType as FieldType
from .frame import Frame as Frame
from .frame.config import FieldConfig as FieldConfig
from .frame.meta import FrameMeta as FrameMeta
from .frame.meta import Notice as Notice
from .options import Secret as Secret
from .plugin import Plugin as Plugin
from .query import Query as Query
from .query import QueryResponse as QueryResponse
from .query import TimeRange as TimeRange
from .resource import Headers as Headers
from .resource import ResourceRequest as ResourceRequest
from .resource import ResourceResponse as ResourceResponse
from .settings import Settings as Settings

__all__ = (
    "AppSettings",
    "ConfigurationError",
    "DataSourceSettings",
    "Field",
    "FieldConfig",
    "FieldType",
    "Frame",
    "FrameError",
    "FrameMeta",
    "HandshakeError",
    "Headers",
    "HealthResult",
    "HealthStatus",
    "InstanceError",
    "Notice",
    "OptionsError",
    "Plugin",
    "PluginContext",
    "PluginError",
    "Query",
    "QueryError",
    "QueryResponse",
    "RequestContext",
    "ResourceError",
    "ResourceRequest",
    "ResourceResponse",
    "Secret",
    "Secrets",
    "Settings",
    "TimeRange",
    "User",
)
