"""The host side of the wire: what the dev host and the test kit do in Plutono's place.

``client`` makes the calls Plutono makes and decodes the replies; ``requests`` builds their
messages (time ranges, queries, plugin contexts) as Plutono does; ``wire`` parses what a plugin
writes (handshake line, hclog lines, ``plugin.json``); ``process`` launches a plugin executable
as go-plugin v1.4.0 does and stops it like ``Kill()``.
"""
