"""Tests against the real peers: the Go host (go-plugin v1.4.0 + SDK v0.88.0) and Go plugins."""
