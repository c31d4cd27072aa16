"""The plugin side of the wire: everything that runs in the plugin process besides the core.

``runner`` checks the host (cookie, versions), sets up hclog on stderr and watches signals and
the parent; ``server`` owns the listener, the grpclib server, the handshake line and the one
drain on shutdown; ``handshake``, ``stdio``, ``hclog`` implement contract sections 1.3-1.11;
``convert`` turns ``pluginv2`` messages into core objects and back; ``codec`` and ``tracker``
wrap every call; ``services/`` holds one module per gRPC service and :func:`services.assemble`,
the one place a plugin's services are put together. Only this package, ``_host`` and
``testing`` import grpclib and the generated ``_proto`` code.
"""
