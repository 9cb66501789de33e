"""Schemathesis hooks for Sieve's binary uploads: a generated body (an array of integers, as the
OpenAPI document describes bytes, or a string) is sent as raw bytes, so the fuzzing phase reaches
the plugin and dataset upload handlers with garbage components and archives."""

import json

import schemathesis


def _as_bytes(value):
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return bytes(v % 256 for v in value)
    return json.dumps(value).encode()


@schemathesis.serializer("application/wasm", "application/x-tar")
def raw_bytes(ctx, value):
    return _as_bytes(value)
