"""Data frames: the tables every query answers with (contract section 4).

=================  ==========================================================================
module             what
=================  ==========================================================================
``types``          :class:`FieldType` (the 13 element types) and the time-series shapes
``field``          :class:`Field`: one typed column, from Python values, numpy, pandas, Arrow
``model``          :class:`Frame`: named, equally long fields with meta; encode and decode
``config``         :class:`~plutono_plugin.frame.config.FieldConfig` and its parts
``meta``           :class:`~plutono_plugin.frame.meta.FrameMeta`, notices and stats
``_ipc``           Arrow IPC files as Plutono 7.5 reads them, written without an Arrow library
``_columns``       Arrow buffers from Python values (stdlib ``array``) and numpy (zero-copy)
``_arrow``         pyarrow input, decoding and ``to_arrow`` (with ``_reshape``: the ``arrow`` extra)
``_extras``        the extra an operation needs, named when it is missing
``_fastpath``      bulk checks for plain Python columns
``annotations``    annotation frames in the field names Plutono's frontend reads
``_timeseries``    SDK v0.88.0's time-series classification and the alerting check
``_reshape``       long ↔ wide, fill modes, field order: vectorised pyarrow kernels
``_rows``          database rows (cursors, dicts, tuples) → fields, for ``Frame.from_rows``
=================  ==========================================================================

Example::

    from plutono_plugin.frame import Field, Frame

    frame = Frame("cpu", [Field("time", [1704067200_000000000]), Field("value", [0.5])])
    assert Frame.decode(frame.encode()) == frame
"""

from .field import Field as Field
from .model import Frame as Frame
from .types import FieldType as FieldType
from .types import TimeSeriesType as TimeSeriesType

__all__ = ("Field", "FieldType", "Frame", "TimeSeriesType")
