"""The JSON API: parse the request, call one service, translate the result (OpenAPI documented)."""
