"""Gunicorn settings for Jiayi's web processes (production).

Started by deploy/systemd/jiayi-web.service:
    /opt/jiayi/venv/bin/gunicorn -c /opt/jiayi/deploy/gunicorn.conf.py

nginx on the same host is the only client (see deploy/nginx/jiayi.conf). These
environment variables are read here and not by the app:
    JIAYI_BIND                 listen address, default 127.0.0.1:8000
    JIAYI_WORKERS              worker processes, default 2 * CPU cores + 1
    JIAYI_THREADS              threads per worker, default 4
    JIAYI_FORWARDED_ALLOW_IPS  proxies trusted for X-Forwarded-*, default 127.0.0.1
"""
import multiprocessing
import os

# The app factory, called once in each worker (gunicorn's "module:callable()" syntax).
# create_app() reads its settings from the environment (EnvironmentFile in the unit).
wsgi_app = "server:create_app()"

bind = os.environ.get("JIAYI_BIND", "127.0.0.1:8000")

# 2 * cores + 1 keeps the CPUs busy while some workers wait on PostgreSQL or on
# WeChat / the insurance platform. Every worker process owns its own SQLAlchemy pool
# (pool_size 10 + max_overflow 10), so size PostgreSQL's max_connections from this
# number; see deploy/POSTGRESQL.md.
workers = int(os.environ.get("JIAYI_WORKERS", 2 * multiprocessing.cpu_count() + 1))

# Threads let one worker keep serving while a request waits on an outside call.
worker_class = "gthread"
threads = int(os.environ.get("JIAYI_THREADS", 4))

# With gthread, `timeout` is a liveness check on the worker process (its main loop
# must report within 30 s), not a per-request limit. Per-request limits live in nginx:
# the WeChat Pay notify has to be answered within 5 s, and that location has
# proxy_read_timeout 5s.
timeout = 30
# On SIGTERM / SIGHUP, in-flight requests get this long to finish
# (the units' TimeoutStopSec is a little longer).
graceful_timeout = 30
# Longer than nginx's upstream keepalive_timeout (60 s). If gunicorn closed an idle
# connection first, nginx could send a request on a socket gunicorn had just closed,
# and nginx does not retry a non-idempotent POST (for example a payment notify),
# so it would return a 502.
keepalive = 75

# Restart each worker after about 1000 requests. This caps slow memory growth, and
# the jitter stops all workers from restarting at the same moment.
max_requests = 1000
max_requests_jitter = 100

# No preload: the app is built in each worker *after* the fork, so each worker creates
# its own SQLAlchemy engine and pool. No database connection (or TLS session, or
# thread) is ever inherited across a fork. If two processes shared one socket, their
# protocol streams would mix and corrupt each other's queries. It also lets
# `systemctl reload jiayi-web` (SIGHUP) pick up newly installed code.
preload_app = False

# Trust X-Forwarded-Proto only from nginx on this host. Werkzeug's ProxyFix in the app
# (one hop) reads X-Forwarded-For/Proto/Host. If nginx or a load balancer runs on
# another host, change both bind and this setting.
forwarded_allow_ips = os.environ.get("JIAYI_FORWARDED_ALLOW_IPS", "127.0.0.1")

# Access log to stdout (journald). Query strings can carry personal data (ID card or
# phone numbers in search filters), so the format never includes %(r)s (the request
# line), %(q)s (the query) or %(f)s (the referer, which can carry a query string too).
# Fields: method, path without query, status, response bytes, seconds taken.
accesslog = "-"
access_log_format = "%(m)s %(U)s %(s)s %(B)s %(L)s"
errorlog = "-"
loglevel = os.environ.get("JIAYI_GUNICORN_LOGLEVEL", "info")

proc_name = "jiayi-web"

# Gunicorn 25.1 and later open a control socket (used by gunicornc). Its default path
# is under $HOME, which the hardened unit makes read-only, so put it in the unit's
# RuntimeDirectory (/run/jiayi) when systemd provides one. Older gunicorns ignore this
# setting.
if os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = os.path.join(os.environ["RUNTIME_DIRECTORY"].split(":")[0], "gunicorn.ctl")
