"""Clients of the outside services: WeChat, WeChat Pay v3, the provincial insurance platform.

Each is reached over HTTP at a base URL from config; in development and tests that base
URL is the loopback sandbox (`server/sandbox/`), so the code path is the production one.
"""
