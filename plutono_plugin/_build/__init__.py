"""Internals of ``plutono-plugin build``/``package``: targets, wheels, bytecode, launchers.

* :mod:`.targets` — the platforms Plutono runs on and the wheel tags that serve each;
* :mod:`.resolve` — runtime dependencies per target from wheels, cached;
* :mod:`.assemble` — the plugin directory: code, bytecode, launchers, ``lib/build.json``;
* :mod:`.boot` — the first code a shipped plugin runs (copied into the directory);
* :mod:`.standalone` — a bundled interpreter with PyInstaller;
* :mod:`.package` — the zips Plutono's plugin install expects.
"""
